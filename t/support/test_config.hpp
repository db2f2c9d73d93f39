// t/support/test_config.hpp -- Config values for unit tests, built directly.
//
// act() turns an action text into a rules::Action by its first word (kind, severity,
// code) without validating it: a stand-in for rules::parse_action where a test needs a
// value, not the config check. default_config() is SPEC §2's defaults; postfix_config()
// is `preset = "postfix"` as SPEC §2's table sets it.
#pragma once

#include <string_view>

#include "config/config.hpp"
#include "rules/action.hpp"

namespace rpd::test {

rules::Action act(std::string_view text);
config::Config default_config();
config::Config postfix_config();
// default_config() with every check action DUNNO, tempfail "auto", no exemptions, no header.
config::Config quiet_config();

}  // namespace rpd::test
