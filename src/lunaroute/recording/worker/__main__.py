import sys

from lunaroute.recording.worker._main import main

if __name__ == "__main__":
    sys.exit(main())
