"""The recorder process: follows the capture journal, derives session events and writes them to the stores.

The gateway starts it (`WorkerProcess`) and talks to it with the messages in `_protocol`.
"""
