// The daemon core end to end: the real binary on temporary unix sockets and loopback
// ports, spoken to with the policy protocol; plus an in-process Server with scripted
// deciders for what the DUNNO stand-in cannot show (reply order, in-flight requests at
// SIGTERM, request deadlines).
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "server/listener.hpp"
#include "server/server.hpp"
#include "support/daemon.hpp"

// g++ 12 warns about members left out of a designated initializer, which is the point of
// writing DaemonSetup{.server_extra = ...}; the others keep their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace rpd;
using namespace rpd::test;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

#define REQUIRE_STARTED(d) REQUIRE_MESSAGE((d).started(), (d).start_error())
#define REQUIRE_MESSAGE(cond, msg) \
    do {                           \
        INFO(msg);                 \
        REQUIRE(cond);             \
    } while (false)

}  // namespace

TEST_CASE("server: 10,000 requests over one unix connection", "[.integration][server]") {
    Daemon daemon;
    REQUIRE_STARTED(daemon);
    auto client = PolicyClient::connect_unix(daemon.unix_path());
    REQUIRE(client);
    const auto request = rcpt_request();
    constexpr int n = 10'000;

    // As Postfix does it: one request, wait for the answer, the next.
    const auto start = Clock::now();
    int answered = 0;
    for (int i = 0; i < n; ++i) {
        const auto reply = client->ask(request);
        if (!reply || *reply != "DUNNO") break;
        ++answered;
    }
    const double one_by_one = seconds_since(start);
    CHECK(answered == n);

    // Pipelined: all requests sent back to back, the replies read as they come.
    std::string batch;
    for (int i = 0; i < n; ++i) batch += request;
    const auto start2 = Clock::now();
    bool sent = false;   // Catch assertions stay on this thread
    std::thread writer([&] { sent = client->send(batch, 30s); });
    int pipelined = 0;
    for (int i = 0; i < n; ++i) {
        const auto reply = client->read_reply(30s);
        if (!reply || *reply != "DUNNO") break;
        ++pipelined;
    }
    writer.join();
    const double batched = seconds_since(start2);
    CHECK(sent);
    CHECK(pipelined == n);

    WARN(fmt::format("one unix connection, DUNNO, decision logged to a file: {} requests one by one in {:.2f}s "
                     "= {:.0f} req/s; {} pipelined in {:.2f}s = {:.0f} req/s",
                     n, one_by_one, n / one_by_one, n, batched, n / batched));
    CHECK(daemon.wait_for_log("NOQUEUE: action=DUNNO check=- outcome=- client=unknown[203.0.113.9] "
                              "helo=<mx.example.test> sender=<alice@example.test> recipient=<bob@example.org> "
                              "state=RCPT delay=",
                              10s, 2 * n));
}

TEST_CASE("server: 500 concurrent connections held and answered", "[.integration][server]") {
    Daemon daemon(DaemonSetup{.inet_hosts = {"127.0.0.1"}});
    REQUIRE_STARTED(daemon);
    std::vector<PolicyClient> clients;
    for (int i = 0; i < 500; ++i) {
        auto c = i % 2 == 0 ? PolicyClient::connect_unix(daemon.unix_path())
                            : PolicyClient::connect_inet("127.0.0.1", daemon.inet_port());
        REQUIRE(c);
        clients.push_back(std::move(*c));
    }
    for (int round = 0; round < 3; ++round) {
        INFO("round " << round);
        for (auto& c : clients) REQUIRE(c.send(rcpt_request()));
        int answered = 0;
        for (auto& c : clients) answered += c.read_reply() == std::optional<std::string>("DUNNO");
        CHECK(answered == 500);
    }
}

TEST_CASE("server: a malformed request closes only its connection", "[.integration][server]") {
    Daemon daemon(DaemonSetup{.inet_hosts = {"127.0.0.1"}});
    REQUIRE_STARTED(daemon);
    auto good_unix = PolicyClient::connect_unix(daemon.unix_path());
    auto good_inet = PolicyClient::connect_inet("127.0.0.1", daemon.inet_port());
    REQUIRE(good_unix);
    REQUIRE(good_inet);
    REQUIRE(good_unix->ask(rcpt_request()) == "DUNNO");

    struct Case {
        const char* label;
        std::string bytes;
        bool then_close;       // half-close after sending: EOF in the middle of a request
        const char* reason;    // as logged
    };
    const Case cases[] = {
        {"no '='", "request=smtpd_access_policy\nthis is not an attribute\n\n", false, "line 2: no '='"},
        {"NUL byte", std::string("request=smtpd\0access_policy\n\n", 29), false, "line 1: binary data (byte 0x00)"},
        {"TLS junk", std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\n", 12), false, "binary data"},
        {"line too long", "sender=" + std::string(5000, 'a') + "\n\n", false, "line longer than 4096 bytes"},
        {"too many attributes", [] {
             std::string s;
             for (int i = 0; i < 300; ++i) s += fmt::format("x{}=1\n", i);
             return s + "\n";
         }(), false, "more than 256 attributes"},
        {"EOF mid-request", "request=smtpd_access_policy\nsender=a@exa", true, "closed in the middle of a request"},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        const auto before = daemon.log_count("malformed request");
        auto bad = PolicyClient::connect_unix(daemon.unix_path());
        REQUIRE(bad);
        // A good request first: the connection is known good until the junk comes.
        REQUIRE(bad->ask(rcpt_request()) == "DUNNO");
        REQUIRE(bad->send(c.bytes));
        if (c.then_close) ::shutdown(bad->fd(), SHUT_WR);
        CHECK(bad->wait_closed(5s));
        CHECK(daemon.wait_for_log("malformed request", 5s, before + 1));
        CHECK(daemon.log().find(c.reason) != std::string::npos);
        // The others are unaffected.
        CHECK(good_unix->ask(rcpt_request()) == "DUNNO");
        CHECK(good_inet->ask(rcpt_request()) == "DUNNO");
    }
    // One line per malformed request, naming the peer.
    const auto log = daemon.log();
    CHECK(daemon.log_count("malformed request") == std::size(cases));
    CHECK(std::regex_search(log, std::regex("warning: unix:" + daemon.unix_path() +
                                            " pid=[0-9]+: malformed request: line 2: no '=' in attribute line")));
    // The daemon is still accepting new connections.
    auto fresh = PolicyClient::connect_unix(daemon.unix_path());
    REQUIRE(fresh);
    CHECK(fresh->ask(rcpt_request()) == "DUNNO");
    // Junk over inet names the inet peer.
    auto bad_inet = PolicyClient::connect_inet("127.0.0.1", daemon.inet_port());
    REQUIRE(bad_inet);
    REQUIRE(bad_inet->send("GET / HTTP/1.0\r\n\r\n"));
    CHECK(bad_inet->wait_closed(5s));
    CHECK(daemon.wait_for_log("malformed request", 5s, std::size(cases) + 1));
    CHECK(std::regex_search(daemon.log(), std::regex("warning: 127\\.0\\.0\\.1:[0-9]+: malformed request")));
}

TEST_CASE("server: past max_connections, existing connections keep working", "[.integration][server]") {
    Daemon daemon(DaemonSetup{.inet_hosts = {"127.0.0.1"}, .server_extra = "max_connections = 5\n"});
    REQUIRE_STARTED(daemon);
    std::vector<PolicyClient> held;
    for (int i = 0; i < 5; ++i) {
        auto c = PolicyClient::connect_unix(daemon.unix_path());
        REQUIRE(c);
        REQUIRE(c->ask(rcpt_request()) == "DUNNO");   // accepted and counted
        held.push_back(std::move(*c));
    }
    // Beyond the limit: accepted by the kernel, then closed by the daemon without a reply.
    for (int i = 0; i < 3; ++i) {
        auto extra = i == 1 ? PolicyClient::connect_inet("127.0.0.1", daemon.inet_port())
                            : PolicyClient::connect_unix(daemon.unix_path());
        REQUIRE(extra);
        extra->send(rcpt_request());
        CHECK(extra->wait_closed(5s));
    }
    CHECK(daemon.wait_for_log("max_connections (5) reached", 5s));
    CHECK(daemon.log_count("max_connections (5) reached") == 1);   // once per burst
    for (auto& c : held) CHECK(c.ask(rcpt_request()) == "DUNNO");

    // A freed slot is usable again (the close is noticed on the daemon's next loop turn).
    held.pop_back();
    bool served = false;
    for (int attempt = 0; attempt < 50 && !served; ++attempt) {
        auto again = PolicyClient::connect_unix(daemon.unix_path());
        REQUIRE(again);
        served = again->ask(rcpt_request(), 2s) == "DUNNO";
        if (!served) std::this_thread::sleep_for(20ms);
    }
    CHECK(served);
}

TEST_CASE("server: SIGHUP with a good and a bad file", "[.integration][server]") {
    DaemonSetup setup{.server_extra = "max_connections = 100\n"};
    Daemon daemon(setup);
    REQUIRE_STARTED(daemon);
    auto first = PolicyClient::connect_unix(daemon.unix_path());
    REQUIRE(first);
    REQUIRE(first->ask(rcpt_request()) == "DUNNO");

    // Good file: max_connections = 1 takes effect for new connections.
    setup.server_extra = "max_connections = 1\n";
    write_file(daemon.config_path(), daemon.config_text(setup));
    REQUIRE(daemon.signal(SIGHUP));
    REQUIRE(daemon.wait_for_log("configuration reloaded from " + daemon.config_path(), 5s));
    auto second = PolicyClient::connect_unix(daemon.unix_path());
    REQUIRE(second);
    second->send(rcpt_request());
    CHECK(second->wait_closed(5s));
    CHECK(daemon.wait_for_log("max_connections (1) reached", 5s));
    CHECK(first->ask(rcpt_request()) == "DUNNO");

    // Bad file: every error with FILE:LINE:COL, and the previous config stays.
    const auto bad = fmt::format(
        "[server]\n"
        "listen = [\"unix:{}\"]\n"
        "max_connections = \"lots\"\n"
        "idle_timeout = \"forever\"\n"
        "[log]\n"
        "to = \"stderr\"\n",
        daemon.unix_path());
    write_file(daemon.config_path(), bad);
    REQUIRE(daemon.signal(SIGHUP));
    REQUIRE(daemon.wait_for_log("keeping the previous configuration", 5s));
    const auto log = daemon.log();
    const auto& path = daemon.config_path();
    CHECK(std::regex_search(log, std::regex("error: " + path + ":3:[0-9]+: ")));
    CHECK(std::regex_search(log, std::regex("error: " + path + ":4:[0-9]+: ")));
    CHECK(daemon.log_count("configuration reloaded") == 1);
    // Still the reloaded good config: one connection at most, and it is answered.
    CHECK(first->ask(rcpt_request()) == "DUNNO");
    auto third = PolicyClient::connect_unix(daemon.unix_path());
    REQUIRE(third);
    third->send(rcpt_request());
    CHECK(third->wait_closed(5s));
    // Still alive, and it stops cleanly.
    REQUIRE(daemon.signal(SIGTERM));
    CHECK(daemon.wait_exit(15s) == 0);
}

TEST_CASE("server: SIGTERM with requests in flight answers them and exits 0", "[.integration][server]") {
    Daemon daemon(DaemonSetup{.inet_hosts = {"127.0.0.1"}, .server_extra = "request_deadline = \"2s\"\n"});
    REQUIRE_STARTED(daemon);
    constexpr int busy_connections = 10;
    constexpr int per_connection = 200;
    // Busy ones over unix: the kernel keeps replies readable even when the daemon closes
    // with unread requests (TCP would answer those with a reset). Idle ones over both.
    std::vector<PolicyClient> busy, idle;
    for (int i = 0; i < busy_connections; ++i) {
        auto c = PolicyClient::connect_unix(daemon.unix_path());
        REQUIRE(c);
        REQUIRE(c->ask(rcpt_request()) == "DUNNO");
        busy.push_back(std::move(*c));
    }
    for (int i = 0; i < 6; ++i) {
        auto c = i % 2 ? PolicyClient::connect_inet("127.0.0.1", daemon.inet_port())
                       : PolicyClient::connect_unix(daemon.unix_path());
        REQUIRE(c);
        REQUIRE(c->ask(rcpt_request()) == "DUNNO");
        idle.push_back(std::move(*c));
    }
    // Pipelined requests on the busy connections, and SIGTERM while they are being read.
    std::string batch;
    for (int i = 0; i < per_connection; ++i) batch += rcpt_request();
    for (auto& c : busy) REQUIRE(c.send(batch));
    const auto signalled = Clock::now();
    REQUIRE(daemon.signal(SIGTERM));
    // Every request the daemon took is answered, whole, then the connection closes.
    int answered = 0;
    for (auto& c : busy) {
        for (int i = 0; i < per_connection; ++i) {
            const auto reply = c.read_reply(5s);
            if (!reply) break;
            CHECK(*reply == "DUNNO");
            ++answered;
        }
        CHECK(c.wait_closed(5s));
    }
    for (auto& c : idle) CHECK(c.wait_closed(5s));
    const auto code = daemon.wait_exit(5s);
    CHECK(code == 0);
    CHECK(seconds_since(signalled) < 2.5);   // within request_deadline (plus slack)
    const auto log = daemon.log();
    INFO(log);
    CHECK(daemon.log_count("stopping on SIGTERM") == 1);
    CHECK(daemon.log_count(": stopped") == 1);
    // Each decision the daemon logged reached its client (the 16 first asks included).
    CHECK(daemon.log_count("NOQUEUE: action=DUNNO") == static_cast<std::size_t>(answered) + busy.size() + idle.size());
    std::smatch in_flight;
    if (std::regex_search(log, in_flight, std::regex("([0-9]+) request\\(s\\) in flight"))) {
        WARN("SIGTERM found " << in_flight[1] << " request(s) in flight; " << answered << " of "
                              << busy_connections * per_connection << " pipelined requests were answered");
    }
    // The unix socket file is gone, so Postfix gets "connection refused", not a hang.
    struct stat st {};
    CHECK(::lstat(daemon.unix_path().c_str(), &st) != 0);
}

TEST_CASE("server: unix, IPv4 and IPv6 listeners at once", "[.integration][server]") {
    Daemon daemon(DaemonSetup{.inet_hosts = {"127.0.0.1", "::1"}});
    REQUIRE_STARTED(daemon);
    auto u = PolicyClient::connect_unix(daemon.unix_path());
    auto v4 = PolicyClient::connect_inet("127.0.0.1", daemon.inet_port(0));
    auto v6 = PolicyClient::connect_inet("::1", daemon.inet_port(1));
    REQUIRE(u);
    REQUIRE(v4);
    REQUIRE(v6);
    for (int i = 0; i < 100; ++i) {
        CHECK(u->ask(rcpt_request()) == "DUNNO");
        CHECK(v4->ask(rcpt_request("192.0.2.1")) == "DUNNO");
        CHECK(v6->ask(rcpt_request("2001:db8::1")) == "DUNNO");
    }
    CHECK(daemon.wait_for_log("client=unknown[2001:db8::1]", 5s, 100));
    // The unix socket has socket_mode (default 0666).
    struct stat st {};
    REQUIRE(::stat(daemon.unix_path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0666);
}

TEST_CASE("server: socket_mode is applied to unix listeners", "[.integration][server]") {
    Daemon daemon(DaemonSetup{.server_extra = "socket_mode = \"0660\"\n"});
    REQUIRE_STARTED(daemon);
    struct stat st {};
    REQUIRE(::stat(daemon.unix_path().c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0660);
}

TEST_CASE("server: an inet peer outside allow is closed at accept and logged", "[.integration][server]") {
    Daemon daemon(DaemonSetup{.inet_hosts = {"127.0.0.1", "::1"}, .server_extra = "allow = [\"127.0.0.2/32\"]\n"});
    REQUIRE_STARTED(daemon);
    auto outsider = PolicyClient::connect_inet("127.0.0.1", daemon.inet_port(0), 5s, "127.0.0.1");
    REQUIRE(outsider);
    outsider->send(rcpt_request());
    CHECK(outsider->wait_closed(5s));
    CHECK(daemon.wait_for_log("refused connection from 127.0.0.1:", 5s));
    CHECK(daemon.log().find("not in server.allow") != std::string::npos);
    auto outsider6 = PolicyClient::connect_inet("::1", daemon.inet_port(1));
    REQUIRE(outsider6);
    CHECK(outsider6->wait_closed(5s));
    // Refusals are logged once per burst, not per connection.
    for (int i = 0; i < 5; ++i) {
        auto again = PolicyClient::connect_inet("127.0.0.1", daemon.inet_port(0));
        REQUIRE(again);
        CHECK(again->wait_closed(5s));
    }
    CHECK(daemon.log_count("not in server.allow") == 1);
    // A peer inside allow is served on the same listener; unix listeners ignore allow.
    auto insider = PolicyClient::connect_inet("127.0.0.1", daemon.inet_port(0), 5s, "127.0.0.2");
    REQUIRE(insider);
    CHECK(insider->ask(rcpt_request()) == "DUNNO");
    auto local = PolicyClient::connect_unix(daemon.unix_path());
    REQUIRE(local);
    CHECK(local->ask(rcpt_request()) == "DUNNO");
}

TEST_CASE("server: idle_timeout closes an idle connection, not a busy one", "[.integration][server]") {
    Daemon daemon(DaemonSetup{.server_extra = "idle_timeout = \"1s\"\n"});
    REQUIRE_STARTED(daemon);
    auto idle = PolicyClient::connect_unix(daemon.unix_path());
    auto busy = PolicyClient::connect_unix(daemon.unix_path());
    REQUIRE(idle);
    REQUIRE(busy);
    REQUIRE(idle->ask(rcpt_request()) == "DUNNO");
    CHECK_FALSE(idle->wait_closed(500ms));   // not before its time
    // The busy one asks every 250ms for 2s: never idle for 1s.
    bool busy_ok = true;
    for (int i = 0; i < 8; ++i) {
        std::this_thread::sleep_for(250ms);
        busy_ok = busy_ok && busy->ask(rcpt_request()) == "DUNNO";
    }
    CHECK(busy_ok);
    CHECK(idle->wait_closed(1s));   // idle for about 2.5s by now
    CHECK(busy->ask(rcpt_request()) == "DUNNO");
}

TEST_CASE("server: requests without client_address, and empty requests, are answered", "[.integration][server]") {
    Daemon daemon;
    REQUIRE_STARTED(daemon);
    auto c = PolicyClient::connect_unix(daemon.unix_path());
    REQUIRE(c);
    CHECK(c->ask("request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@example.test\n\n") == "DUNNO");
    CHECK(c->ask("request=smtpd_access_policy\nclient_address=not-an-address\n\n") == "DUNNO");
    CHECK(c->ask("\n") == "DUNNO");
    CHECK(c->ask("x_unknown=1\r\n\r\n") == "DUNNO");
    CHECK(daemon.wait_for_log("NOQUEUE: action=DUNNO check=- outcome=- client=unknown[unknown] helo=<> "
                              "sender=<a@example.test> recipient=<> state=RCPT delay=",
                              5s));
    CHECK(daemon.wait_for_log("client=unknown[not-an-address]", 5s));
}

TEST_CASE("startup: stale socket replaced, other files refused with exit 2", "[.integration][server]") {
    SECTION("a stale socket file is replaced") {
        TempDir dir;
        const auto path = dir.file("policy.sock");
        {
            // Bound and closed without unlink: what a crash leaves behind.
            const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            std::memcpy(addr.sun_path, path.c_str(), path.size());
            REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
            ::close(fd);
        }
        Daemon daemon(fmt::format("[server]\nlisten = [\"unix:{}\"]\n[log]\nto = \"stderr\"\n{}", path, checks_off), dir);
        REQUIRE_STARTED(daemon);
        auto c = PolicyClient::connect_unix(path);
        REQUIRE(c);
        CHECK(c->ask(rcpt_request()) == "DUNNO");
    }
    SECTION("a regular file is never removed") {
        TempDir dir;
        const auto path = dir.file("policy.sock");
        write_file(path, "precious");
        write_file(dir.file("c.toml"), fmt::format("[server]\nlisten = [\"unix:{}\"]\n[log]\nto = \"stderr\"\n", path));
        const auto r = run_binary({"-f", "-c", dir.file("c.toml")});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("exists and is not a socket") != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        std::ifstream in(path);
        std::string content;
        in >> content;
        CHECK(content == "precious");
    }
    SECTION("a socket another daemon accepts on is left alone") {
        Daemon first;
        REQUIRE_STARTED(first);
        TempDir dir;
        write_file(dir.file("c.toml"),
                   fmt::format("[server]\nlisten = [\"unix:{}\"]\n[log]\nto = \"stderr\"\n", first.unix_path()));
        const auto r = run_binary({"-f", "-c", dir.file("c.toml")});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("another process is accepting connections") != std::string::npos);
        auto c = PolicyClient::connect_unix(first.unix_path());
        REQUIRE(c);
        CHECK(c->ask(rcpt_request()) == "DUNNO");
    }
    SECTION("an inet port in use") {
        Daemon first(DaemonSetup{.unix_listener = false, .inet_hosts = {"127.0.0.1"}});
        REQUIRE_STARTED(first);
        TempDir dir;
        write_file(dir.file("c.toml"), fmt::format("[server]\nlisten = [\"inet:127.0.0.1:{}\"]\n[log]\nto = \"stderr\"\n",
                                                   first.inet_port()));
        const auto r = run_binary({"-f", "-c", dir.file("c.toml")});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("cannot bind: Address already in use") != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    }
}

TEST_CASE("command line: -t, --version, --help, usage errors, subcommands", "[.integration][server]") {
    TempDir dir;
    write_file(dir.file("good.toml"), "[server]\nlisten = [\"unix:/tmp/x.sock\"]\n");
    write_file(dir.file("bad.toml"), "[server]\nmax_connections = -1\nno_such_key = 1\n[nonsense]\n");
    auto good = run_binary({"-t", "-c", dir.file("good.toml")});
    CHECK(good.exit_code == 0);
    CHECK(good.err.empty());
    auto bad = run_binary({"-t", "-c", dir.file("bad.toml")});
    CHECK(bad.exit_code == 1);
    CHECK(std::regex_search(bad.err, std::regex(dir.file("bad.toml") + ":2:[0-9]+: ")));
    CHECK(std::regex_search(bad.err, std::regex(dir.file("bad.toml") + ":3:[0-9]+: ")));
    auto missing = run_binary({"-t", "-c", dir.file("missing.toml")});
    CHECK(missing.exit_code == 1);
    CHECK(missing.err.find("missing.toml") != std::string::npos);
    // The daemon itself refuses a bad file the same way, with exit 1.
    auto daemon_bad = run_binary({"-f", "-c", dir.file("bad.toml")});
    CHECK(daemon_bad.exit_code == 1);
    CHECK(daemon_bad.err.find("not started") != std::string::npos);
    // The sample config in the tree passes.
    CHECK(run_binary({"-t", "-c", std::string(RPD_SOURCE_DIR) + "/etc/reverse-policyd.toml"}).exit_code == 0);

    auto version = run_binary({"--version"});
    CHECK(version.exit_code == 0);
    CHECK(version.out == fmt::format("reverse-policyd {}\n", RPD_VERSION));
    auto help = run_binary({"--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("usage: reverse-policyd") != std::string::npos);
    CHECK(help.out.find("doctor") != std::string::npos);
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"--no-such-option"}, {"-c"}, {"frobnicate"}, {"check", "--helo", "x.example.test"},
             {"check", "--client-address", "192.0.2.1", "--state", "BOGUS"}, {"doctor", "--bogus"}}) {
        INFO(fmt::format("{}", fmt::join(args, " ")));
        const auto r = run_binary(args);
        CHECK(r.exit_code == 1);
        CHECK_FALSE(r.err.empty());
    }
    // A loopback client is never looked up: an answer without DNS. (The checks world,
    // test_checks_world.cpp, runs both subcommands against a real resolver.)
    auto check = run_binary({"check", "-c", dir.file("good.toml"), "--client-address", "127.0.0.1", "--json"});
    CHECK(check.exit_code == 0);
    CHECK(check.out.find("\"action\" : \"DUNNO\"") != std::string::npos);
    write_file(dir.file("dead-dns.toml"),
               fmt::format("[dns]\nnameservers = [\"127.0.0.1:{}\"]\ntimeout = \"200ms\"\nattempts = 1\n", free_port()));
    auto doctor = run_binary({"doctor", "-c", dir.file("dead-dns.toml")});
    CHECK(doctor.exit_code == 2);
    CHECK(doctor.out.find("NOT ANSWERING") != std::string::npos);
}

// --- in process: scripted deciders ---

namespace {

// Answers each request with "PREPEND X-Seq: <instance>" after a delay chosen per
// request, or only when its deadline expires. Test-only: one timer per job is fine here.
class ScriptedDecider final : public policy::Decider {
public:
    struct Script {
        std::function<std::chrono::milliseconds(std::size_t seq)> delay;   // empty: answer only at expire()
        std::size_t stop_after = 0;                                        // stop the server at this many requests
    };

    ScriptedDecider(event_base* base, Script script, server::Server** server)
        : base_(base), script_(std::move(script)), server_(server),
          stop_ev_(event_new(base, -1, 0, &ScriptedDecider::on_stop, this)) {}

    std::unique_ptr<Job> decide(std::shared_ptr<const config::Config>, const policy::Request& request,
                                Done done) override {
        const auto seq = count_++;
        auto job = std::make_unique<TimedJob>(std::move(done), "PREPEND X-Seq: " + request.instance);
        if (script_.delay) {
            const auto d = script_.delay(seq);
            const timeval tv{static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>(d.count() % 1000 * 1000)};
            job->timer.reset(event_new(base_, -1, 0, &TimedJob::on_timer, job.get()));
            event_add(job->timer.get(), &tv);
        }
        if (script_.stop_after != 0 && count_ == script_.stop_after) event_active(stop_ev_.get(), 0, 0);
        return job;
    }

    std::size_t count() const { return count_; }
    std::size_t expired = 0;

private:
    struct TimedJob final : Job {
        TimedJob(Done d, std::string a) : done(std::move(d)), action(std::move(a)) {}
        void expire() override { answer("DEFER_IF_PERMIT deadline " + action.substr(15)); }
        void answer(std::string what) {
            if (answered) return;
            answered = true;
            timer.reset();
            done(policy::Decision{std::move(what), {}});
        }
        static void on_timer(evutil_socket_t, short, void* arg) noexcept {
            auto* self = static_cast<TimedJob*>(arg);
            self->answer(self->action);
        }
        Done done;
        std::string action;
        server::EventPtr timer;
        bool answered = false;
    };

    static void on_stop(evutil_socket_t, short, void* arg) noexcept {
        auto* self = static_cast<ScriptedDecider*>(arg);
        (*self->server_)->stop("test stop");
    }

    event_base* base_;
    Script script_;
    server::Server** server_;
    server::EventPtr stop_ev_;
    std::size_t count_ = 0;
};

struct InProcess {
    TempDir dir;
    std::shared_ptr<config::Config> config = std::make_shared<config::Config>();
    server::Server* server = nullptr;
    std::unique_ptr<server::Server> owned;
    std::thread loop;
    std::atomic<int> exit_code{-1};
    ScriptedDecider* decider = nullptr;

    std::string socket_path() const { return dir.file("s.sock"); }

    void start(ScriptedDecider::Script script) {
        config::ListenAddress address;
        address.kind = config::ListenAddress::Kind::Unix;
        address.path = socket_path();
        address.text = "unix:" + address.path;
        config->server.listen = {address};
        config->log.to = config::LogConfig::Sink::Stderr;
        auto opened = server::open_listener(address, 0600);
        REQUIRE(std::holds_alternative<server::ListenSocket>(opened));
        std::vector<server::ListenSocket> listeners;
        listeners.push_back(std::get<server::ListenSocket>(std::move(opened)));
        auto factory = [this, script](event_base* base, std::shared_ptr<const config::Config>) {
            auto d = std::make_unique<ScriptedDecider>(base, script, &server);
            decider = d.get();
            return d;
        };
        owned = std::make_unique<server::Server>(config, std::move(listeners), factory, server::ServerOptions{});
        server = owned.get();
        loop = std::thread([this] { exit_code = server->run(); });
    }

    // Through the signal, as the daemon is stopped: safe from this thread.
    void stop() { ::kill(::getpid(), SIGTERM); }

    // Bounded: the loop must end by itself (stop_after or a test failure path kills it).
    bool join(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (loop.joinable() && exit_code == -1 && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
        if (exit_code == -1) return false;
        loop.join();
        return true;
    }

    ~InProcess() {
        if (loop.joinable()) {
            // Last resort after a failed check: wake the loop with SIGTERM twice (stop now).
            ::kill(::getpid(), SIGTERM);
            std::this_thread::sleep_for(50ms);
            ::kill(::getpid(), SIGTERM);
            loop.join();
        }
    }
};

}  // namespace

TEST_CASE("server in process: pipelined replies leave in request order", "[.integration][server]") {
    InProcess p;
    constexpr std::size_t n = 40;
    // Later requests are decided first: request i after (n - i) * 5 ms.
    p.config->server.request_deadline = std::chrono::seconds(5);
    p.start({.delay = [](std::size_t seq) { return std::chrono::milliseconds((n - seq % n) * 5); },
             .stop_after = 0});
    auto c = PolicyClient::connect_unix(p.socket_path());
    REQUIRE(c);
    std::string batch;
    for (std::size_t i = 0; i < n; ++i) batch += rcpt_request("192.0.2.1", fmt::format("instance=req-{}\n", i));
    REQUIRE(c->send(batch));
    for (std::size_t i = 0; i < n; ++i) {
        INFO("reply " << i);
        CHECK(c->read_reply() == fmt::format("PREPEND X-Seq: req-{}", i));
    }
    p.stop();
    CHECK(p.join(5s));
    CHECK(p.exit_code == 0);
}

TEST_CASE("server in process: stop answers the requests in flight, refuses new ones", "[.integration][server]") {
    InProcess p;
    constexpr std::size_t connections = 4;
    constexpr std::size_t per_connection = 5;
    p.config->server.request_deadline = std::chrono::seconds(3);
    // Every request takes 300 ms; the server is stopped when all 20 are in flight.
    p.start({.delay = [](std::size_t) { return std::chrono::milliseconds(300); },
             .stop_after = connections * per_connection});
    std::vector<PolicyClient> clients;
    for (std::size_t i = 0; i < connections; ++i) {
        auto c = PolicyClient::connect_unix(p.socket_path());
        REQUIRE(c);
        clients.push_back(std::move(*c));
    }
    const auto start = Clock::now();
    for (std::size_t i = 0; i < connections; ++i) {
        std::string batch;
        for (std::size_t j = 0; j < per_connection; ++j) {
            batch += rcpt_request("192.0.2.1", fmt::format("instance={}-{}\n", i, j));
        }
        REQUIRE(clients[i].send(batch));
    }
    for (std::size_t i = 0; i < connections; ++i) {
        for (std::size_t j = 0; j < per_connection; ++j) {
            CHECK(clients[i].read_reply(5s) == fmt::format("PREPEND X-Seq: {}-{}", i, j));
        }
        CHECK(clients[i].wait_closed(5s));
    }
    CHECK(p.join(5s));
    CHECK(p.exit_code == 0);
    CHECK(seconds_since(start) < 3.0);   // well within request_deadline
    CHECK_FALSE(PolicyClient::connect_unix(p.socket_path(), 1s));   // listener closed, file removed
}

TEST_CASE("server in process: request_deadline answers a request whose decision never comes",
          "[.integration][server]") {
    InProcess p;
    p.config->server.request_deadline = std::chrono::milliseconds(300);
    p.start({.delay = {}, .stop_after = 0});
    auto c = PolicyClient::connect_unix(p.socket_path());
    REQUIRE(c);
    for (int round = 0; round < 3; ++round) {
        const auto start = Clock::now();
        CHECK(c->ask(rcpt_request("192.0.2.1", fmt::format("instance=r{}\n", round)), 5s) ==
              fmt::format("DEFER_IF_PERMIT deadline r{}", round));
        const double took = seconds_since(start);
        CHECK(took >= 0.29);
        CHECK(took < 2.0);
    }
    p.stop();
    CHECK(p.join(5s));
}

TEST_CASE("startup: server.user drops privileges after binding", "[.integration][server]") {
    if (::geteuid() == 0) {
        Daemon daemon(DaemonSetup{.server_extra = "user = \"nobody\"\n"});
        REQUIRE_STARTED(daemon);
        CHECK(daemon.wait_for_log("running as user nobody", 5s));
        // Real, effective, saved and filesystem uid are all nobody's.
        std::ifstream status("/proc/" + std::to_string(daemon.pid()) + "/status");
        std::string line, uid_line;
        while (std::getline(status, line)) {
            if (line.rfind("Uid:", 0) == 0) uid_line = line;
        }
        CHECK(std::regex_match(uid_line, std::regex("Uid:\\s+([1-9][0-9]*)\\s+\\1\\s+\\1\\s+\\1")));
        // Bound as root, still answering as nobody.
        auto c = PolicyClient::connect_unix(daemon.unix_path());
        REQUIRE(c);
        CHECK(c->ask(rcpt_request()) == "DUNNO");

        TempDir dir;
        write_file(dir.file("c.toml"), fmt::format("[server]\nlisten = [\"unix:{}\"]\nuser = \"no-such-user-rpd\"\n"
                                                   "[log]\nto = \"stderr\"\n",
                                                   dir.file("p.sock")));
        const auto r = run_binary({"-f", "-c", dir.file("c.toml")});
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("no such user \"no-such-user-rpd\"") != std::string::npos);
    } else {
        // Not root: the setting cannot apply, which is said once, and the daemon runs.
        Daemon daemon(DaemonSetup{.server_extra = "user = \"nobody\"\n"});
        REQUIRE_STARTED(daemon);
        CHECK(daemon.wait_for_log("not started as root: server.user = \"nobody\" ignored", 5s));
        auto c = PolicyClient::connect_unix(daemon.unix_path());
        REQUIRE(c);
        CHECK(c->ask(rcpt_request()) == "DUNNO");
    }
}

namespace {

// Kills, by pid, every process whose command line holds `config_path` (a background
// daemon is not our child, so its pid is found in /proc), also when a check fails.
struct BackgroundGuard {
    std::string config_path;
    std::vector<pid_t> pids() const {
        std::vector<pid_t> found;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
            const auto name = entry.path().filename().string();
            if (name.find_first_not_of("0123456789") != std::string::npos) continue;
            std::ifstream in(entry.path() / "cmdline", std::ios::binary);
            std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            const pid_t pid = std::stoi(name);
            if (cmdline.find(config_path) != std::string::npos && pid != ::getpid()) found.push_back(pid);
        }
        return found;
    }
    ~BackgroundGuard() {
        for (const pid_t pid : pids()) ::kill(pid, SIGKILL);
    }
};

}  // namespace

TEST_CASE("startup: without -f the daemon goes to the background", "[.integration][server]") {
    TempDir dir;
    const auto socket_path = dir.file("bg.sock");
    const auto config_path = dir.file("background.toml");
    write_file(config_path,
               fmt::format("[server]\nlisten = [\"unix:{}\"]\n[log]\nto = \"stderr\"\n{}", socket_path, checks_off));
    BackgroundGuard guard{config_path};
    const auto r = run_binary({"-c", config_path});
    CHECK(r.exit_code == 0);   // the parent returns once the child runs
    auto c = PolicyClient::connect_unix(socket_path);
    REQUIRE(c);
    CHECK(c->ask(rcpt_request()) == "DUNNO");
    // Exactly one process runs with this config: the background daemon.
    const auto pids = guard.pids();
    REQUIRE(pids.size() == 1);
    const pid_t daemon = pids[0];
    // In a session of its own, with / as its directory.
    CHECK(::getsid(daemon) == daemon);
    char cwd[64] = {};
    CHECK(::readlink(("/proc/" + std::to_string(daemon) + "/cwd").c_str(), cwd, sizeof cwd - 1) == 1);
    CHECK(std::string(cwd) == "/");
    c->close();
    REQUIRE(::kill(daemon, SIGTERM) == 0);
    // Gone (or a zombie nobody reaps in this container) within a bounded wait.
    bool stopped = false;
    for (int i = 0; i < 500 && !stopped; ++i) {
        std::ifstream stat("/proc/" + std::to_string(daemon) + "/stat");
        std::string pid_field, comm, state;
        stopped = !(stat >> pid_field >> comm >> state) || state == "Z";
        if (!stopped) std::this_thread::sleep_for(10ms);
    }
    CHECK(stopped);
}
