//! Integration tests, `files`: one test binary with a module per area (each module says what it covers).

mod config_errors;
mod config_load;
mod config_readme;
mod config_redis_url;
mod config_secrets;
mod mapping_default;
mod mapping_file;
mod mapping_json;
mod repo_self_contained;
mod routing_rules;
