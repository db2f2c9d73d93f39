#include "support/test_config.hpp"

#include <stdexcept>
#include <string>

namespace rpd::test {

rules::Action act(std::string_view text) {
    auto parsed = rules::parse_action(text);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        throw std::invalid_argument("test act(" + std::string(text) + "): " + *error);
    }
    return std::get<rules::Action>(std::move(parsed));
}

config::Config config_from(std::string_view toml) {
    auto loaded = config::load_string(toml, "test.toml");
    if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded)) {
        std::string all;
        for (const auto& e : *errors) all += e.to_string() + "\n";
        throw std::invalid_argument("test config: " + all);
    }
    return *std::get<std::shared_ptr<const config::Config>>(loaded);
}

config::Config default_config() { return config_from(""); }

config::Config postfix_config() { return config_from("preset = \"postfix\"\n"); }

config::Config quiet_config() {
    return config_from(R"(
[headers]
warning = false
[sender]
not_found = "DUNNO"
exempt_authenticated = false
exempt_allowlisted = false
)");
}

}  // namespace rpd::test
