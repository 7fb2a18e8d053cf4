"""Configuration: the typed schema, loading from YAML/TOML/JSON, `${VAR}` expansion, strict validation."""

from lunaroute.config._advice import config_warnings
from lunaroute.config._loader import (
    REQUEST_TEMPLATE_VARS,
    config_from_mapping,
    home_dir,
    load_config,
    resolve_config_path,
)
from lunaroute.config._schema import (
    BUILTIN_PROVIDERS,
    BypassConfig,
    Config,
    HttpClientConfig,
    HttpServerConfig,
    LoggingConfig,
    MetricsConfig,
    MockConfig,
    ObservabilityConfig,
    ProviderConfig,
    ProviderType,
    RoutingConfig,
    RuleConfig,
    SessionRecordingConfig,
    SwitchNotificationConfig,
    UiConfig,
)

__all__ = [
    "BUILTIN_PROVIDERS",
    "REQUEST_TEMPLATE_VARS",
    "BypassConfig",
    "Config",
    "HttpClientConfig",
    "HttpServerConfig",
    "LoggingConfig",
    "MetricsConfig",
    "MockConfig",
    "ObservabilityConfig",
    "ProviderConfig",
    "ProviderType",
    "RoutingConfig",
    "RuleConfig",
    "SessionRecordingConfig",
    "SwitchNotificationConfig",
    "UiConfig",
    "config_from_mapping",
    "config_warnings",
    "home_dir",
    "load_config",
    "resolve_config_path",
]
