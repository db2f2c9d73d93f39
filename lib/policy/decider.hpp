// lib/policy/decider.hpp -- what the server asks of whatever decides a request.
//
// The server owns connections and deadlines; a Decider turns one Request into one
// action, asynchronously. `done` runs exactly once, from the event loop, never from
// inside decide(). If the request's deadline fires first, the server calls
// Job::expire(), which must run `done` at once with what is known (unfinished lookups
// count as tempfail). Destroying the Job (connection closed) cancels it: `done` will
// not run. `request` must stay valid until `done` has run or the Job is destroyed (the
// connection keeps it next to the Job).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "policy/request.hpp"

namespace rpd::policy {

struct Decision {
    std::string action;     // one line, already sanitised: "DUNNO", "450 4.7.1 ..."
    // The decision log line without the trailing " delay=..." that the server appends:
    // "NOQUEUE: action=DUNNO check=- outcome=- client=...". Empty: the server builds it.
    std::string log_line;
};

class Decider {
public:
    using Done = std::function<void(Decision)>;

    class Job {
    public:
        virtual ~Job() = default;
        virtual void expire() = 0;
    };

    virtual ~Decider() = default;
    virtual std::unique_ptr<Job> decide(std::shared_ptr<const config::Config> config,
                                        const Request& request, Done done) = 0;
};

}  // namespace rpd::policy
