// t/support/test_config.hpp -- Config values for unit tests, from the real loader.
//
// act() is rules::parse_action that throws on a refused action (a test bug).
// default_config() is an empty file: SPEC §2's defaults. postfix_config() is
// `preset = "postfix"`. quiet_config() sets every check action to DUNNO, no exemptions
// and no header. config_from() loads any TOML text and throws with every error.
#pragma once

#include <string_view>

#include "config/config.hpp"
#include "rules/action.hpp"

namespace rpd::test {

rules::Action act(std::string_view text);
config::Config config_from(std::string_view toml);
config::Config default_config();
config::Config postfix_config();
config::Config quiet_config();

}  // namespace rpd::test
