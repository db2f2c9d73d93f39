// Integration tests for rpd-bench (contrib/bench): the load generator against its own
// --echo server and against small broken servers run by the test, the request
// generator's output, the request file, exit statuses; and rpd-bench-dns, the
// benchmark responder, answering the generator's names over real UDP. Unix sockets in a temp dir
// only; every process is killed by pid when a test ends, every wait is bounded.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dns/wire.hpp"
#include "util/ip.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// RPD_BINARY is build/policyd/reverse-policyd; the tool is build/contrib/bench/rpd-bench.
fs::path bench_binary() {
    return fs::path(RPD_BINARY).parent_path().parent_path() / "contrib" / "bench" / "rpd-bench";
}

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "rpd-bench-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A child process with stdout and stderr in files. Killed and reaped by pid if still
// running when it goes out of scope, also when a REQUIRE fails.
class Child {
public:
    Child(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err) : out_(out), err_(err) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) pid_ = -1;
    }
    ~Child() {
        if (pid_ > 0 && !status_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    bool started() const { return pid_ > 0; }
    void signal(int sig) {
        if (pid_ > 0 && !status_) kill(pid_, sig);
    }
    // Exit status (128 + signal if killed), or nullopt if still running after `limit`.
    std::optional<int> wait_for(std::chrono::milliseconds limit) {
        const auto deadline = Clock::now() + limit;
        while (!status_ && pid_ > 0) {
            int st = 0;
            const pid_t r = waitpid(pid_, &st, WNOHANG);
            if (r == pid_) {
                status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                break;
            }
            if (r < 0 || Clock::now() >= deadline) break;
            std::this_thread::sleep_for(5ms);
        }
        return status_;
    }
    std::string out() const { return slurp(out_); }
    std::string err() const { return slurp(err_); }

private:
    pid_t pid_ = -1;
    std::optional<int> status_;
    fs::path out_, err_;
};

struct Run {
    int status = -1;
    std::string out, err;
};

// Runs rpd-bench to its end (at most 60 s) and returns its status and output.
Run run_bench(const TempDir& dir, std::vector<std::string> args) {
    static int counter = 0;
    const auto stem = dir.path / ("run" + std::to_string(++counter));
    args.insert(args.begin(), bench_binary().string());
    Child c(args, stem.string() + ".out", stem.string() + ".err");
    REQUIRE(c.started());
    const auto st = c.wait_for(60s);
    REQUIRE(st.has_value());
    return {*st, c.out(), c.err()};
}

bool can_connect(const fs::path& path) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
    const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0;
    close(fd);
    return ok;
}

// rpd-bench --echo on a socket in `dir`, ready when constructed.
struct Echo {
    fs::path sock;
    Child child;
    explicit Echo(const TempDir& dir)
        : sock(dir.path / "echo.sock"),
          child({bench_binary().string(), "--echo", "unix:" + sock.string()}, dir.path / "echo.out",
                dir.path / "echo.err") {
        REQUIRE(child.started());
        const auto deadline = Clock::now() + 10s;
        while (!can_connect(sock) && Clock::now() < deadline && !child.wait_for(0ms)) std::this_thread::sleep_for(10ms);
        REQUIRE(can_connect(sock));
    }
    std::string target() const { return "unix:" + sock.string(); }
};

// A number from the one-line JSON summary: "key":123 (first occurrence).
std::uint64_t json_uint(const std::string& json, const std::string& key) {
    const auto needle = "\"" + key + "\":";
    const auto pos = json.find(needle);
    INFO("key " << key << " in " << json);
    REQUIRE(pos != std::string::npos);
    return std::stoull(json.substr(pos + needle.size()));
}
double json_double(const std::string& json, const std::string& key) {
    const auto needle = "\"" + key + "\":";
    const auto pos = json.find(needle);
    INFO("key " << key << " in " << json);
    REQUIRE(pos != std::string::npos);
    return std::stod(json.substr(pos + needle.size()));
}

// A deliberately broken (or slow) policy server on a Unix socket, in a thread of the
// test: `answer` maps the n-th request (0, 1, ...) to the bytes sent back; nullopt
// sends nothing; "<close>" closes the connection. Stops when destroyed, or by itself
// after 60 s.
class TestServer {
public:
    using Answer = std::function<std::optional<std::string>(std::uint64_t)>;
    TestServer(const fs::path& sock, Answer answer) : sock_(sock), answer_(std::move(answer)) {
        listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        REQUIRE(listen_fd_ >= 0);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::strncpy(sun.sun_path, sock.c_str(), sizeof sun.sun_path - 1);
        REQUIRE(bind(listen_fd_, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0);
        REQUIRE(listen(listen_fd_, 64) == 0);
        thread_ = std::thread([this] { loop(); });
    }
    ~TestServer() {
        stop_ = true;
        thread_.join();
        close(listen_fd_);
    }
    std::uint64_t requests() const { return requests_; }
    std::string target() const { return "unix:" + sock_.string(); }

private:
    void loop() {
        struct Peer {
            int fd;
            std::string in;
        };
        std::vector<Peer> peers;
        const auto deadline = Clock::now() + 60s;
        while (!stop_ && Clock::now() < deadline) {
            std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
            for (const auto& p : peers) fds.push_back({p.fd, POLLIN, 0});
            if (poll(fds.data(), fds.size(), 20) <= 0) continue;
            if (fds[0].revents & POLLIN) {
                const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd >= 0) peers.push_back({fd, {}});
            }
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                Peer& p = peers[i - 1];
                char buf[8192];
                const ssize_t n = read(p.fd, buf, sizeof buf);
                if (n <= 0) {
                    close(p.fd);
                    p.fd = -1;
                    continue;
                }
                p.in.append(buf, static_cast<std::size_t>(n));
                for (auto end = p.in.find("\n\n"); end != std::string::npos && p.fd >= 0; end = p.in.find("\n\n")) {
                    p.in.erase(0, end + 2);
                    const auto reply = answer_(requests_++);
                    if (!reply) continue;
                    if (*reply == "<close>") {
                        close(p.fd);
                        p.fd = -1;
                        break;
                    }
                    (void)!write(p.fd, reply->data(), reply->size());
                }
            }
            std::erase_if(peers, [](const Peer& p) { return p.fd < 0; });
        }
        for (const auto& p : peers) close(p.fd);
    }

    fs::path sock_;
    Answer answer_;
    int listen_fd_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> requests_{0};
    std::thread thread_;
};

// The requests printed by --print-requests, as attribute lists.
using Attrs = std::vector<std::pair<std::string, std::string>>;
std::vector<Attrs> parse_requests(const std::string& text) {
    std::vector<Attrs> out;
    Attrs cur;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) {
            out.push_back(std::move(cur));
            cur.clear();
            continue;
        }
        const auto eq = line.find('=');
        REQUIRE(eq != std::string::npos);
        cur.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
    CHECK(cur.empty());   // the last request ends with its empty line
    return out;
}
std::string attr(const Attrs& a, const std::string& name) {
    for (const auto& [k, v] : a)
        if (k == name) return v;
    FAIL("no attribute " << name);
    return {};
}

bool in_documentation_ranges(const std::string& address) {
    const auto ip = rpd::util::IpAddress::parse(address);
    if (!ip) return false;
    for (const char* net : {"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"})
        if (rpd::util::Cidr::parse(net)->contains(*ip)) return true;
    return false;
}

// Postfix valid_hostname(): labels of letters, digits, '-' (not first or last), at most 63.
bool valid_hostname(const std::string& name) {
    std::istringstream in(name);
    std::string l;
    int labels = 0;
    while (std::getline(in, l, '.')) {
        if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-') return false;
        for (const char c : l)
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
        ++labels;
    }
    return labels >= 2 && name.size() <= 253 && name.back() != '.';
}

// The value of the text summary's line `key   value`.
std::string summary_line(const std::string& out, const std::string& key) {
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(key + " ")) {
            const auto v = line.find_first_not_of(' ', key.size());
            return v == std::string::npos ? std::string() : line.substr(v);
        }
    }
    FAIL("no line " << key << " in " << out);
    return {};
}

}  // namespace

TEST_CASE("rpd-bench: 20,000 requests on 16 connections to --echo, all answered and counted on both sides",
          "[.integration][bench]") {
    REQUIRE(fs::exists(bench_binary()));
    TempDir dir;
    Echo echo(dir);
    const auto r = run_bench(dir, {"-n", "20000", "-c", "16", "--json", echo.target()});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(json_uint(r.out, "requests") == 20000);
    CHECK(json_uint(r.out, "ok") == 20000);
    CHECK(json_uint(r.out, "errors") == 0);
    CHECK(json_uint(r.out, "DUNNO") == 20000);
    CHECK(json_uint(r.out, "connects") == 16);
    CHECK(r.out.find("\"cut_by_cap\":false") != std::string::npos);
    const double p50 = json_double(r.out, "p50"), p99 = json_double(r.out, "p99"), max = json_double(r.out, "max");
    CHECK(p50 > 0);
    CHECK(p50 <= p99);
    CHECK(p99 <= max);
    CHECK(json_double(r.out, "requests_per_s") > 0);

    // The server's own count: every request seen once. (Its connections are these 16
    // plus the probes of rpd-bench and of this test, which send nothing.)
    echo.child.signal(SIGTERM);
    REQUIRE(echo.child.wait_for(10s) == std::optional<int>(0));
    CHECK(echo.child.err().find("served 20000 requests on ") != std::string::npos);
    CHECK_FALSE(fs::exists(echo.sock));
}

TEST_CASE("rpd-bench: text and CSV summaries", "[.integration][bench]") {
    TempDir dir;
    Echo echo(dir);
    const auto text = run_bench(dir, {"-n", "2000", "-c", "4", echo.target()});
    INFO(text.out << text.err);
    CHECK(text.status == 0);
    CHECK(summary_line(text.out, "requests") == "2000 (ok 2000)");
    CHECK(summary_line(text.out, "errors") == "0");
    CHECK(std::stod(summary_line(text.out, "requests/s")) > 0);
    const auto latency = summary_line(text.out, "latency ms");
    for (const char* p : {"p50 ", "  p90 ", "  p99 ", "  p99.9 ", "  max ", "(mean "}) CHECK(latency.find(p) != std::string::npos);
    CHECK(summary_line(text.out, "actions") == "DUNNO 2000");

    const auto csv = run_bench(dir, {"-n", "500", "-c", "2", "--csv", "--csv-header", echo.target()});
    INFO(csv.out << csv.err);
    CHECK(csv.status == 0);
    std::istringstream lines(csv.out);
    std::string header, row, extra;
    REQUIRE(std::getline(lines, header));
    REQUIRE(std::getline(lines, row));
    CHECK_FALSE(std::getline(lines, extra));
    CHECK(header.starts_with("target,connections,threads,idle,requests,ok,errors,"));
    auto fields = [](const std::string& s) {
        std::size_t n = 1;
        bool quoted = false;
        for (const char c : s) {
            if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) ++n;
        }
        return n;
    };
    CHECK(fields(header) == fields(row));
    CHECK(row.find(",2,1,0,500,500,0,") != std::string::npos);
    CHECK(row.find("\"DUNNO:500\"") != std::string::npos);
}

TEST_CASE("rpd-bench: reconnecting, threads and a duration", "[.integration][bench]") {
    TempDir dir;
    Echo echo(dir);
    {
        const auto r = run_bench(dir, {"-n", "1000", "-c", "4", "--reconnect-after", "10", "--json", echo.target()});
        INFO(r.out << r.err);
        CHECK(r.status == 0);
        CHECK(json_uint(r.out, "ok") == 1000);
        // 100 connections carry 10 requests each; a reconnect racing the last request may add a few.
        CHECK(json_uint(r.out, "connects") >= 100);
        CHECK(json_uint(r.out, "connects") <= 104);
    }
    {
        const auto r = run_bench(dir, {"-n", "5001", "-c", "8", "--threads", "2", "--json", echo.target()});
        INFO(r.out << r.err);
        CHECK(r.status == 0);
        CHECK(json_uint(r.out, "requests") == 5001);
        CHECK(json_uint(r.out, "ok") == 5001);
        CHECK(json_uint(r.out, "connects") == 8);
    }
    {
        const auto r = run_bench(dir, {"-d", "500ms", "-c", "4", "--json", echo.target()});
        INFO(r.out << r.err);
        CHECK(r.status == 0);
        CHECK(json_uint(r.out, "ok") > 0);
        CHECK(json_uint(r.out, "errors") == 0);
        CHECK(json_uint(r.out, "ok") == json_uint(r.out, "requests"));
        CHECK(json_double(r.out, "elapsed_s") >= 0.5);
        CHECK(json_double(r.out, "elapsed_s") < 5.0);
    }
    {
        const auto r = run_bench(dir, {"-n", "200", "-c", "2", "--idle", "100", echo.target()});
        INFO(r.out << r.err);
        CHECK(r.status == 0);
        CHECK(summary_line(r.out, "connections") == "2 (1 thread), 2 connects; 100 idle held open");
        CHECK(summary_line(r.out, "requests") == "200 (ok 200)");
    }
    // The echo saw the idle connections: 100 + 2 + 1 probe of that run, and more before.
    echo.child.signal(SIGTERM);
    REQUIRE(echo.child.wait_for(10s) == std::optional<int>(0));
    const auto err = echo.child.err();
    const auto on = err.find(" requests on ");
    REQUIRE(on != std::string::npos);
    CHECK(std::stoull(err.substr(on + 13)) >= 100 + 2 + 1 + 100 + 8 + 4);
}

TEST_CASE("rpd-bench: a broken server's replies are counted as errors by kind", "[.integration][bench]") {
    TempDir dir;
    struct Case {
        const char* label;
        TestServer::Answer answer;
        std::vector<std::string> args;
        const char* kind;
        const char* message;   // in the first error's text (stderr)
    };
    const std::vector<Case> cases = {
        {"garbage", [](std::uint64_t) { return std::optional<std::string>("HELLO\n\n"); }, {"-n", "50", "-c", "2"},
         "malformed", "no action= attribute"},
        {"two replies to one request",
         [](std::uint64_t) { return std::optional<std::string>("action=DUNNO\n\naction=DUNNO\n\n"); },
         {"-n", "10", "-c", "1"}, "malformed", "data after the reply"},
        {"empty action", [](std::uint64_t) { return std::optional<std::string>("action=\n\n"); },
         {"-n", "10", "-c", "2"}, "malformed", "empty action"},
        {"CR LF", [](std::uint64_t) { return std::optional<std::string>("action=DUNNO\r\n\r\n"); },
         {"-n", "10", "-c", "2"}, "malformed", "CR LF"},
        {"closes without a reply", [](std::uint64_t) { return std::optional<std::string>("<close>"); },
         {"-n", "10", "-c", "2"}, "eof", "closed the connection"},
        {"never replies", [](std::uint64_t) { return std::optional<std::string>(); },
         {"-n", "4", "-c", "2", "--timeout", "200ms"}, "timeout", "no reply within 200 ms"},
    };
    for (const auto& c : cases) {
        INFO(c.label);
        const auto sock = dir.path / "broken.sock";
        fs::remove(sock);
        TestServer server(sock, c.answer);
        auto args = c.args;
        args.push_back("--json");
        args.push_back(server.target());
        const auto t0 = Clock::now();
        const auto r = run_bench(dir, args);
        const auto took = Clock::now() - t0;
        INFO(r.out << r.err);
        const auto n = std::stoull(c.args[1]);
        CHECK(r.status == 3);
        CHECK(json_uint(r.out, "requests") == n);
        CHECK(json_uint(r.out, "ok") == 0);
        CHECK(json_uint(r.out, "errors") == n);
        CHECK(json_uint(r.out, c.kind) == n);
        CHECK(r.err.find(c.message) != std::string::npos);
        CHECK(took < 20s);
        if (std::string(c.kind) == "timeout") {
            CHECK(took >= 400ms);   // two rounds of 200 ms on each of 2 connections
            CHECK(json_uint(r.out, "connects") == 4);   // each timed-out connection was reopened
        }
    }
}

TEST_CASE("rpd-bench: latency and the action histogram come from the server's replies", "[.integration][bench]") {
    TempDir dir;
    {
        TestServer server(dir.path / "mixed.sock", [](std::uint64_t n) {
            static const char* replies[] = {"action=REJECT go away\n\n", "action=DUNNO\n\n",
                                            "action=450 4.7.1 try later\n\n"};
            return std::optional<std::string>(replies[n % 3]);
        });
        const auto r = run_bench(dir, {"-n", "30", "-c", "1", "--json", server.target()});
        INFO(r.out << r.err);
        CHECK(r.status == 0);
        CHECK(json_uint(r.out, "REJECT") == 10);
        CHECK(json_uint(r.out, "DUNNO") == 10);
        CHECK(json_uint(r.out, "450") == 10);
        CHECK(server.requests() == 30);   // the start probe sends nothing
    }
    {
        TestServer server(dir.path / "slow.sock", [](std::uint64_t) {
            std::this_thread::sleep_for(30ms);
            return std::optional<std::string>("action=DUNNO\n\n");
        });
        const auto r = run_bench(dir, {"-n", "5", "-c", "1", "--json", server.target()});
        INFO(r.out << r.err);
        CHECK(r.status == 0);
        CHECK(json_double(r.out, "p50") >= 30.0);
        CHECK(json_double(r.out, "max") < 5000.0);
        CHECK(json_double(r.out, "elapsed_s") >= 0.15);
    }
}

TEST_CASE("rpd-bench: --max-duration cuts a run short and counts what was in flight", "[.integration][bench]") {
    TempDir dir;
    TestServer server(dir.path / "silent.sock", [](std::uint64_t) { return std::optional<std::string>(); });
    const auto t0 = Clock::now();
    const auto r = run_bench(dir, {"-n", "2", "-c", "2", "--timeout", "30s", "--max-duration", "300ms", "--json",
                                   server.target()});
    INFO(r.out << r.err);
    CHECK(r.status == 3);
    CHECK(Clock::now() - t0 < 10s);
    CHECK(json_uint(r.out, "unfinished") == 2);
    CHECK(r.out.find("\"cut_by_cap\":true") != std::string::npos);
}

TEST_CASE("rpd-bench: usage errors exit 1, an unreachable target exits 2", "[.integration][bench]") {
    TempDir dir;
    const std::vector<std::vector<std::string>> usage_errors = {
        {},
        {"tcp:127.0.0.1:1"},
        {"-n", "0", "unix:/nonexistent"},
        {"--clients", "0", "unix:/nonexistent"},
        {"--bogus", "unix:/nonexistent"},
        {"--unique-clients", "--clients", "5", "unix:/nonexistent"},
        {"-d", "10s", "--max-duration", "1s", "unix:/nonexistent"},
        {"-c", "2", "--threads", "3", "unix:/nonexistent"},
        {"--echo", "unix:/nonexistent", "-n", "5"},
    };
    for (const auto& args : usage_errors) {
        const auto r = run_bench(dir, args);
        INFO(r.err);
        CHECK(r.status == 1);
        CHECK(r.err.starts_with("rpd-bench: "));
    }
    const auto r = run_bench(dir, {"-n", "5", "unix:" + (dir.path / "nobody.sock").string()});
    CHECK(r.status == 2);
    CHECK(r.err.find("cannot connect") != std::string::npos);
}

TEST_CASE("rpd-bench: generated requests carry every Postfix attribute, with the asked-for variety",
          "[.integration][bench]") {
    TempDir dir;
    const std::vector<std::string> names = {
        "request", "protocol_state", "protocol_name", "helo_name", "queue_id", "sender", "recipient",
        "recipient_count", "client_address", "client_name", "reverse_client_name", "instance", "sasl_method",
        "sasl_username", "sasl_sender", "size", "ccert_subject", "ccert_issuer", "ccert_fingerprint",
        "ccert_pubkey_fingerprint", "encryption_protocol", "encryption_cipher", "encryption_keysize",
        "etrn_domain", "stress", "client_port", "policy_context", "server_address", "server_port",
        "compatibility_level", "mail_version"};
    {
        const auto r = run_bench(dir, {"--print-requests", "12", "--clients", "3"});
        REQUIRE(r.status == 0);
        const auto reqs = parse_requests(r.out);
        REQUIRE(reqs.size() == 12);
        std::set<std::string> clients, helos, senders, instances;
        for (const auto& a : reqs) {
            std::vector<std::string> got;
            for (const auto& [k, v] : a) got.push_back(k);
            CHECK(got == names);
            CHECK(attr(a, "request") == "smtpd_access_policy");
            CHECK(attr(a, "protocol_state") == "RCPT");
            CHECK(in_documentation_ranges(attr(a, "client_address")));
            CHECK(attr(a, "client_name").ends_with(".bench.test"));
            CHECK(valid_hostname(attr(a, "client_name")));
            CHECK(valid_hostname(attr(a, "helo_name")));
            CHECK(attr(a, "sender").ends_with(".bench.test"));
            CHECK(attr(a, "recipient").ends_with("@example.org"));
            clients.insert(attr(a, "client_address"));
            helos.insert(attr(a, "helo_name"));
            senders.insert(attr(a, "sender"));
            instances.insert(attr(a, "instance"));
        }
        CHECK(clients.size() == 3);
        CHECK(helos.size() == 3);       // --helos and --senders default to --clients
        CHECK(senders.size() == 3);
        CHECK(instances.size() == 12);  // a fresh Postfix instance per request
    }
    {
        const auto r = run_bench(dir, {"--print-requests", "12", "--clients", "3", "--helos", "2", "--senders", "1",
                                       "--instances-per-client", "2"});
        REQUIRE(r.status == 0);
        const auto reqs = parse_requests(r.out);
        REQUIRE(reqs.size() == 12);
        std::set<std::string> helos, senders, instances;
        for (const auto& a : reqs) {
            helos.insert(attr(a, "helo_name"));
            senders.insert(attr(a, "sender"));
            instances.insert(attr(a, "instance"));
        }
        CHECK(helos.size() == 2);
        CHECK(senders.size() == 1);
        CHECK(instances.size() == 6);   // 3 clients x 2 instances
    }
    {
        // Past the 759 IPv4 documentation addresses the clients come from 2001:db8::/32.
        const auto r = run_bench(dir, {"--print-requests", "1000", "--unique-clients"});
        REQUIRE(r.status == 0);
        const auto reqs = parse_requests(r.out);
        REQUIRE(reqs.size() == 1000);
        std::set<std::string> clients, helos, senders, names_seen;
        std::size_t v6 = 0;
        for (const auto& a : reqs) {
            const auto addr = attr(a, "client_address");
            CHECK(in_documentation_ranges(addr));
            v6 += addr.find(':') != std::string::npos;
            clients.insert(addr);
            helos.insert(attr(a, "helo_name"));
            senders.insert(attr(a, "sender").substr(attr(a, "sender").find('@') + 1));
            CHECK(valid_hostname(attr(a, "client_name")));
            CHECK(valid_hostname(attr(a, "helo_name")));
            names_seen.insert(attr(a, "client_name"));
        }
        CHECK(clients.size() == 1000);
        CHECK(helos.size() == 1000);
        CHECK(senders.size() == 1000);
        CHECK(names_seen.size() == 1000);
        CHECK(v6 == 1000 - 759);
        // Every lookup needed: the HELO name and sender domain are not the client's name.
        CHECK(attr(reqs[0], "helo_name") != attr(reqs[0], "client_name"));
    }
    {
        const auto a = run_bench(dir, {"--print-requests", "5", "--unique-clients"});
        const auto b = run_bench(dir, {"--print-requests", "5", "--unique-clients", "--client-offset", "5"});
        std::set<std::string> first, second;
        for (const auto& x : parse_requests(a.out)) first.insert(attr(x, "client_address"));
        for (const auto& x : parse_requests(b.out)) second.insert(attr(x, "client_address"));
        CHECK(first.size() == 5);
        CHECK(second.size() == 5);
        for (const auto& s : second) CHECK(first.count(s) == 0);
    }
}

TEST_CASE("rpd-bench: a request file is sent block by block, cycled", "[.integration][bench]") {
    TempDir dir;
    const auto file = dir.path / "requests.txt";
    std::ofstream(file) << "# two requests\r\n"
                           "request=smtpd_access_policy\r\nprotocol_state=RCPT\r\nclient_address=192.0.2.1\r\n"
                           "\r\n\n"
                           "request=smtpd_access_policy\nprotocol_state=MAIL\nclient_address=2001:db8::1\n";
    const auto printed = run_bench(dir, {"--print-requests", "3", "-f", file.string()});
    REQUIRE(printed.status == 0);
    CHECK(printed.out ==
          "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n\n"
          "request=smtpd_access_policy\nprotocol_state=MAIL\nclient_address=2001:db8::1\n\n"
          "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n\n");

    TestServer server(dir.path / "count.sock", [](std::uint64_t) { return std::optional<std::string>("action=DUNNO\n\n"); });
    const auto r = run_bench(dir, {"-n", "7", "-c", "2", "-f", file.string(), "--json", server.target()});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(json_uint(r.out, "ok") == 7);
    CHECK(server.requests() == 7);

    const auto bad = dir.path / "bad.txt";
    std::ofstream(bad) << "request=smtpd_access_policy\nno equals sign here\n";
    const auto b = run_bench(dir, {"-n", "1", "-f", bad.string(), server.target()});
    CHECK(b.status == 2);
    CHECK(b.err.find(bad.string() + ":2: expected name=value") != std::string::npos);
}

// ---- rpd-bench-dns --------------------------------------------------------

namespace {

fs::path bench_dns_binary() { return bench_binary().parent_path() / "rpd-bench-dns"; }

// rpd-bench-dns on a free port of 127.0.0.1, ready when constructed.
struct BenchDns {
    Child child;
    fs::path err;
    std::uint16_t port = 0;
    BenchDns(const TempDir& dir, std::vector<std::string> args)
        : child(
              [&] {
                  args.insert(args.begin(), {bench_dns_binary().string(), "--listen", "127.0.0.1:0"});
                  return args;
              }(),
              dir.path / "dns.out", dir.path / "dns.err"),
          err(dir.path / "dns.err") {
        REQUIRE(child.started());
        const std::string marker = "listening on 127.0.0.1:";
        const auto deadline = Clock::now() + 10s;
        std::string text;
        while (Clock::now() < deadline && !child.wait_for(0ms)) {
            text = slurp(err);
            if (const auto at = text.find(marker); at != std::string::npos) {
                port = static_cast<std::uint16_t>(std::stoul(text.substr(at + marker.size())));
                break;
            }
            std::this_thread::sleep_for(10ms);
        }
        INFO(text);
        REQUIRE(port != 0);
    }
};

// One question over UDP to 127.0.0.1:port; nullopt if no reply within `wait`.
std::optional<rpd::dns::DnsResult> ask_udp(std::uint16_t port, const std::string& name, rpd::dns::RrType type,
                                           std::chrono::milliseconds wait = 2000ms) {
    auto q = rpd::dns::make_question(name, type);
    REQUIRE(q);
    const std::uint16_t id = 0x4242;
    const auto query = rpd::dns::build_query(*q, id);
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) ==
            static_cast<ssize_t>(query.size()));
    std::optional<rpd::dns::DnsResult> result;
    const auto deadline = Clock::now() + wait;
    while (!result && Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (poll(&p, 1, static_cast<int>(std::max<std::int64_t>(1, left.count()))) <= 0) continue;
        std::uint8_t buf[4096];
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) continue;
        auto pkt = rpd::dns::decode({buf, static_cast<std::size_t>(n)});
        if (!pkt || rpd::dns::match_reply(*pkt, id, *q) != rpd::dns::ReplyMatch::Ours) continue;
        result = rpd::dns::interpret(*pkt, *q);
    }
    close(fd);
    return result;
}

}  // namespace

TEST_CASE("rpd-bench-dns: answers the generator's names, after the delay, and counts the questions",
          "[.integration][bench]") {
    using rpd::dns::DnsStatus;
    using rpd::dns::RrType;
    REQUIRE(fs::exists(bench_dns_binary()));
    TempDir dir;
    const auto stats = dir.path / "dns.json";
    BenchDns dns(dir, {"--delay", "50ms", "--ttl", "10m", "--questions", "--stats", stats.string()});

    // The generated requests' names, IPv4 and IPv6 clients, pooled and unique: each
    // resolves the way the scheme promises.
    std::vector<Attrs> reqs = parse_requests(run_bench(dir, {"--print-requests", "2", "--clients", "5"}).out);
    for (auto& r : parse_requests(run_bench(dir, {"--print-requests", "2", "--unique-clients", "--client-offset", "758"}).out))
        reqs.push_back(std::move(r));
    REQUIRE(reqs.size() == 4);
    std::size_t asked = 0;
    for (const auto& a : reqs) {
        const auto ip = rpd::util::IpAddress::parse(attr(a, "client_address"));
        REQUIRE(ip);
        INFO(attr(a, "client_address"));
        const auto t0 = Clock::now();
        const auto ptr = ask_udp(dns.port, ip->reverse_name(), RrType::Ptr);
        REQUIRE(ptr);
        CHECK(Clock::now() - t0 >= 50ms);   // --delay
        CHECK(ptr->status == DnsStatus::Answer);
        CHECK(ptr->names == std::vector<std::string>{attr(a, "client_name")});
        CHECK(ptr->ttl == 600);
        const auto fwd = ask_udp(dns.port, attr(a, "client_name"), ip->is_v4() ? RrType::A : RrType::Aaaa);
        REQUIRE(fwd);
        CHECK(fwd->addresses == std::vector<rpd::util::IpAddress>{*ip});   // forward-confirmed
        const auto other = ask_udp(dns.port, attr(a, "client_name"), ip->is_v4() ? RrType::Aaaa : RrType::A);
        REQUIRE(other);
        CHECK(other->status == DnsStatus::NoData);
        const auto helo = ask_udp(dns.port, attr(a, "helo_name"), ip->is_v4() ? RrType::A : RrType::Aaaa);
        REQUIRE(helo);
        CHECK(helo->status == DnsStatus::Answer);
        const auto sender = attr(a, "sender");
        const auto domain = sender.substr(sender.find('@') + 1);
        const auto mx = ask_udp(dns.port, domain, RrType::Mx);
        REQUIRE(mx);
        REQUIRE(mx->mx.size() == 1);
        CHECK(mx->mx[0].exchange == "mx." + domain);
        const auto mx_a = ask_udp(dns.port, "mx." + domain, RrType::A);
        REQUIRE(mx_a);
        CHECK(mx_a->status == DnsStatus::Answer);
        asked += 6;
    }
    const auto nx = ask_udp(dns.port, "nothing.bench.test", RrType::A);
    REQUIRE(nx);
    CHECK(nx->status == DnsStatus::NxDomain);
    CHECK(nx->ttl == 600);
    const auto outside = ask_udp(dns.port, "example.org", RrType::A);
    REQUIRE(outside);
    CHECK(outside->status == DnsStatus::Refused);
    const auto again = ask_udp(dns.port, "nothing.bench.test", RrType::A);
    REQUIRE(again);
    asked += 3;

    dns.child.signal(SIGTERM);
    REQUIRE(dns.child.wait_for(10s) == std::optional<int>(0));
    const auto json = slurp(stats);
    INFO(json);
    CHECK(json_uint(json, "queries") == asked);
    CHECK(json_uint(json, "max_per_question") == 2);
    CHECK(json.find("\"max_question\":\"nothing.bench.test/A\"") != std::string::npos);
    CHECK(json.find("\"example.org/A\":1") != std::string::npos);
    CHECK(slurp(dns.err).find("queries " + std::to_string(asked) + ":") != std::string::npos);
}

TEST_CASE("rpd-bench-dns --never: counted, never answered", "[.integration][bench]") {
    TempDir dir;
    BenchDns dns(dir, {"--never"});
    CHECK_FALSE(ask_udp(dns.port, "host-192-0-2-8.bench.test", rpd::dns::RrType::A, 300ms));
    CHECK_FALSE(ask_udp(dns.port, "8.2.0.192.in-addr.arpa", rpd::dns::RrType::Ptr, 300ms));
    dns.child.signal(SIGTERM);
    REQUIRE(dns.child.wait_for(10s) == std::optional<int>(0));
    CHECK(slurp(dns.err).find("queries 2: A 1 PTR 1") != std::string::npos);
}
