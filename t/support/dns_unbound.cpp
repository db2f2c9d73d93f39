#include "support/dns_unbound.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "dns/nameservers.hpp"
#include "dns/wire.hpp"

namespace rpd::test {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

// A port on 127.0.0.1 that is free for both UDP and TCP right now. (Another process may
// take it before unbound binds it: start() then tries again with another.)
std::uint16_t free_port() {
    for (int i = 0; i < 50; ++i) {
        Fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_in sin = loopback(0);
        if (udp.get() < 0 || ::bind(udp.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) continue;
        socklen_t len = sizeof(sin);
        ::getsockname(udp.get(), reinterpret_cast<sockaddr*>(&sin), &len);
        const std::uint16_t port = ntohs(sin.sin_port);
        Fd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in tsin = loopback(port);
        if (tcp.get() >= 0 && ::bind(tcp.get(), reinterpret_cast<sockaddr*>(&tsin), sizeof(tsin)) == 0) return port;
    }
    return 0;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace

std::vector<UnboundServer::Zone> UnboundServer::default_zones() {
    const std::string dir = std::string(RPD_TEST_DATA) + "/zones";
    std::vector<Zone> zones;
    std::istringstream list(read_file(dir + "/zones.list"));
    std::string line;
    while (std::getline(list, line)) {
        std::istringstream words(line);
        Zone z;
        if (!(words >> z.origin >> z.file) || z.origin[0] == '#') continue;
        z.file = dir + "/" + z.file;
        zones.push_back(std::move(z));
    }
    return zones;
}

UnboundServer::UnboundServer() : UnboundServer(Options{}) {}

UnboundServer::UnboundServer(Options options) {
    char tmpl[] = "/tmp/rpd-unbound-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
        error_ = std::string("mkdtemp: ") + std::strerror(errno);
        return;
    }
    dir_ = tmpl;
    if (options.zones.empty()) {
        error_ = "no zones (t/data/zones/zones.list unreadable?)";
        return;
    }
    for (int i = 0; i < 3 && !start_once(options); ++i) {
    }
}

UnboundServer::~UnboundServer() {
    stop();
    if (!dir_.empty()) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

bool UnboundServer::start_once(const Options& options) {
    port_ = free_port();
    if (port_ == 0) {
        error_ = "no free port";
        return false;
    }
    const std::string conf = dir_ + "/unbound.conf";
    {
        std::ofstream out(conf);
        out << "server:\n"
            << "  interface: 127.0.0.1@" << port_ << "\n"
            << "  port: " << port_ << "\n"
            << "  do-ip6: no\n"
            << "  do-daemonize: no\n"
            << "  use-syslog: no\n"
            << "  logfile: \"\"\n"
            << "  username: \"\"\n"
            << "  chroot: \"\"\n"
            << "  directory: \"" << dir_ << "\"\n"
            << "  pidfile: \"\"\n"
            << "  num-threads: 1\n"
            << "  so-reuseport: no\n"
            << "  access-control: 127.0.0.0/8 allow\n"
            << "  module-config: \"iterator\"\n"
            << "  qname-minimisation: no\n"
            << "  verbosity: 1\n"
            // Never ask the network: names outside the zones end in SERVFAIL.
            << "  do-not-query-address: 0.0.0.0/0\n"
            << "  do-not-query-address: ::/0\n"
            // Unbound answers reserved zones itself ("test.", the documentation reverse
            // zones: RFC 6761/6303) unless told not to; "invalid." keeps its NXDOMAIN.
            << "  local-zone: \"test.\" nodefault\n";
        for (const auto& z : options.zones) out << "  local-zone: \"" << z.origin << "\" nodefault\n";
        out << "remote-control:\n"
            << "  control-enable: no\n";
        for (const auto& z : options.zones) {
            out << "auth-zone:\n"
                << "  name: \"" << z.origin << "\"\n"
                << "  zonefile: \"" << z.file << "\"\n"
                << "  for-downstream: no\n"
                << "  for-upstream: yes\n"
                << "  fallback-enabled: no\n";
        }
        if (!out) {
            error_ = "cannot write " + conf;
            return false;
        }
    }

    const std::string log_path = dir_ + "/unbound.log";
    std::string arg0 = options.binary, arg1 = "-d", arg2 = "-c", arg3 = conf;
    char* argv[] = {arg0.data(), arg1.data(), arg2.data(), arg3.data(), nullptr};
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        error_ = std::string("fork: ") + std::strerror(errno);
        return false;
    }
    if (pid == 0) {
        // The child: only async-signal-safe calls until exec. If the test process dies
        // (even by a crash), the kernel sends unbound SIGTERM.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);
        const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (null_fd < 0 || log_fd < 0) ::_exit(127);
        ::dup2(null_fd, 0);
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        ::execv(argv[0], argv);
        ::_exit(127);
    }
    pid_ = pid;

    const auto deadline = Clock::now() + options.startup;
    while (Clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = options.binary + " exited during startup (status " + std::to_string(status) + "): " + log();
            return false;
        }
        if (answers(std::chrono::milliseconds(100))) {
            error_.clear();
            return true;
        }
    }
    error_ = "unbound did not answer within the startup bound: " + log();
    stop();
    return false;
}

void UnboundServer::stop() noexcept {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (Clock::now() < deadline) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

// One blocking query for the SOA of example.test: is unbound up yet? (Test code: may block.)
bool UnboundServer::answers(std::chrono::milliseconds wait) const {
    auto q = dns::make_question("example.test", dns::RrType::Soa);
    if (!q) return false;
    const auto wire = dns::build_query(*q, 4242);
    Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin = loopback(port_);
    if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) return false;
    if (::send(fd.get(), wire.data(), wire.size(), 0) < 0) return false;
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) {
        std::this_thread::sleep_for(wait / 4);   // ECONNREFUSED returns at once: do not spin
        return false;
    }
    std::uint8_t buf[4096];
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n <= 0) {
        std::this_thread::sleep_for(wait / 4);
        return false;
    }
    auto pkt = dns::decode(std::span(buf, static_cast<std::size_t>(n)));
    return pkt && ldns_pkt_get_rcode(pkt.get()) == LDNS_RCODE_NOERROR;
}

config::NameServer UnboundServer::nameserver() const {
    config::NameServer ns;
    ns.address = *util::IpAddress::parse("127.0.0.1");
    ns.port = port_;
    ns.text = dns::server_text(ns.address, ns.port);
    return ns;
}

std::string UnboundServer::log() const { return dir_.empty() ? std::string{} : read_file(dir_ + "/unbound.log"); }

}  // namespace rpd::test
