#include "checks/outcome.hpp"

namespace rpd::checks {

std::string_view to_string(CheckKind k) noexcept {
    switch (k) {
    case CheckKind::Client: return "client";
    case CheckKind::Helo: return "helo";
    case CheckKind::Sender: return "sender";
    }
    return "?";
}

std::string_view to_string(ClientOutcome o) noexcept {
    switch (o) {
    case ClientOutcome::Pass: return "pass";
    case ClientOutcome::NoPtr: return "no_ptr";
    case ClientOutcome::Mismatch: return "mismatch";
    case ClientOutcome::TempFail: return "tempfail";
    case ClientOutcome::Skip: return "skip";
    }
    return "?";
}

std::string_view to_string(HeloOutcome o) noexcept {
    switch (o) {
    case HeloOutcome::Pass: return "pass";
    case HeloOutcome::Invalid: return "invalid";
    case HeloOutcome::NonFqdn: return "non_fqdn";
    case HeloOutcome::NotFound: return "not_found";
    case HeloOutcome::Forged: return "forged";
    case HeloOutcome::TempFail: return "tempfail";
    case HeloOutcome::Skip: return "skip";
    }
    return "?";
}

std::string_view to_string(SenderOutcome o) noexcept {
    switch (o) {
    case SenderOutcome::Pass: return "pass";
    case SenderOutcome::NotFound: return "not_found";
    case SenderOutcome::NullMx: return "null_mx";
    case SenderOutcome::Forged: return "forged";
    case SenderOutcome::TempFail: return "tempfail";
    case SenderOutcome::Skip: return "skip";
    }
    return "?";
}

}  // namespace rpd::checks
