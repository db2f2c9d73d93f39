// contrib/bench/load.cpp -- see load.hpp.
#include "load.hpp"

#include <event2/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <thread>

#include <fmt/format.h>

#include "log/sanitize.hpp"
#include "reply.hpp"
#include "util/cptr.hpp"

namespace rpd::bench {

// ---- results --------------------------------------------------------------

void ActionCounts::add(std::string_view word, std::uint64_t n) {
    for (auto& [w, c] : counts_) {
        if (w == word) {
            c += n;
            return;
        }
    }
    if (counts_.size() + 1 < max_words) {
        counts_.emplace_back(std::string(word), n);
        return;
    }
    add("(other)", n);   // the last slot; found by the loop above once it exists
}

void ActionCounts::merge(const ActionCounts& other) {
    for (const auto& [w, c] : other.counts_) add(w, c);
}

std::vector<std::pair<std::string, std::uint64_t>> ActionCounts::sorted() const {
    auto v = counts_;
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    return v;
}

std::uint64_t LoadResult::error_total() const noexcept {
    std::uint64_t n = 0;
    for (const auto e : errors) n += e;
    return n;
}

void LoadResult::count_error(ErrorKind kind, std::string_view message) {
    const auto k = static_cast<std::size_t>(kind);
    ++errors[k];
    if (first_error[k].empty()) first_error[k] = std::string(message);
}

void LoadResult::merge(const LoadResult& other) {
    requests += other.requests;
    ok += other.ok;
    for (std::size_t k = 0; k < error_kinds; ++k) {
        errors[k] += other.errors[k];
        if (first_error[k].empty()) first_error[k] = other.first_error[k];
    }
    connects += other.connects;
    latency.merge(other.latency);
    actions.merge(other.actions);
    cut_by_cap = cut_by_cap || other.cut_by_cap;
    if (internal_error.empty()) internal_error = other.internal_error;
}

namespace {

using Clock = std::chrono::steady_clock;
using EventPtr = util::CPtr<event, event_free>;
using BasePtr = util::CPtr<event_base, event_base_free>;

constexpr std::size_t reply_capacity = 8192;
constexpr auto connect_retry_pause = std::chrono::milliseconds(50);
constexpr auto backlog_full_pause = std::chrono::milliseconds(1);

timeval to_timeval(Clock::duration d) noexcept {
    const auto us = std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count());
    return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

event* new_event(event_base* base, evutil_socket_t fd, short what, event_callback_fn cb, void* arg) {
    event* ev = event_new(base, fd, what, cb, arg);
    if (ev == nullptr) throw std::bad_alloc();
    return ev;
}

class Worker;

// One client connection, reused across reconnects: its events are created once and
// re-pointed at each new socket (event_assign on a non-pending event).
class Conn {
public:
    explicit Conn(Worker& w);
    ~Conn() { close_socket(); }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    void start() { connect_now(); }
    void stop_if_idle();   // stop issuing: connections without a request in flight end now
    void cut();            // hard cap: a request in flight counts as unfinished

private:
    enum class State { Down, Connecting, Writing, Waiting, Done };

    static void on_readable(evutil_socket_t, short, void* arg) noexcept;
    static void on_writable(evutil_socket_t, short, void* arg) noexcept;
    static void on_timer(evutil_socket_t, short, void* arg) noexcept;

    void connect_now();
    void connected();
    void connect_failed(std::string_view why);
    void send_next();
    void write_some();
    void read_reply();
    void timer_fired();
    void fail(ErrorKind kind, std::string_view why);
    void finish();
    void close_socket() noexcept;
    void retry_in(Clock::duration d) noexcept;
    void stop_timer() noexcept;
    void internal(const std::exception& e) noexcept;

    Worker& w_;
    State state_ = State::Down;
    int fd_ = -1;
    EventPtr rev_, wev_, timer_;
    bool timer_armed_ = false;        // saves an event_pending() call per request
    std::string_view request_;
    std::size_t written_ = 0;
    Clock::time_point started_{};     // of the connect or of the request in flight
    std::uint64_t served_ = 0;        // replies on this connection
    std::unique_ptr<char[]> scratch_;
    std::size_t scratch_size_ = 0;
    std::unique_ptr<char[]> in_;
    std::size_t in_len_ = 0;
};

class Worker {
public:
    Worker(const LoadPlan& plan, const RequestSource& source, unsigned index, Clock::time_point start);
    void run();
    LoadResult& stats() noexcept { return result_; }
    Clock::time_point end() const noexcept { return end_; }

    event_base* base() const noexcept { return base_.get(); }
    const LoadPlan& plan() const noexcept { return plan_; }
    const RequestSource& source() const noexcept { return source_; }
    bool more() const noexcept { return !stopping_ && issued_ < quota_; }
    bool take_seq(std::uint64_t& seq);
    void conn_done() noexcept;

private:
    static void on_duration(evutil_socket_t, short, void* arg) noexcept;
    static void on_cap(evutil_socket_t, short, void* arg) noexcept;
    void stop_issuing();

    const LoadPlan& plan_;
    const RequestSource& source_;
    unsigned index_;
    Clock::time_point start_;
    Clock::time_point end_{};
    BasePtr base_;
    EventPtr duration_timer_, cap_timer_;
    std::vector<std::unique_ptr<Conn>> conns_;
    unsigned live_ = 0;
    std::uint64_t quota_ = UINT64_MAX;
    std::uint64_t issued_ = 0;
    bool stopping_ = false;
    LoadResult result_;
};

// ---- Conn -----------------------------------------------------------------

Conn::Conn(Worker& w) : w_(w) {
    rev_.reset(new_event(w.base(), -1, EV_READ | EV_PERSIST, on_readable, this));
    wev_.reset(new_event(w.base(), -1, EV_WRITE, on_writable, this));
    timer_.reset(new_event(w.base(), -1, 0, on_timer, this));
    scratch_size_ = std::max<std::size_t>(w.source().max_size(), 1);
    scratch_ = std::make_unique<char[]>(scratch_size_);
    in_ = std::make_unique<char[]>(reply_capacity);
}

void Conn::on_readable(evutil_socket_t, short, void* arg) noexcept {
    auto* c = static_cast<Conn*>(arg);
    try { c->read_reply(); } catch (const std::exception& e) { c->internal(e); }
}

void Conn::on_writable(evutil_socket_t, short, void* arg) noexcept {
    auto* c = static_cast<Conn*>(arg);
    try {
        if (c->state_ == State::Connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(c->fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err == 0) c->connected();
            else c->connect_failed(std::strerror(err));
        } else if (c->state_ == State::Writing) {
            c->write_some();
        }
    } catch (const std::exception& e) { c->internal(e); }
}

void Conn::on_timer(evutil_socket_t, short, void* arg) noexcept {
    auto* c = static_cast<Conn*>(arg);
    c->timer_armed_ = false;
    try { c->timer_fired(); } catch (const std::exception& e) { c->internal(e); }
}

void Conn::internal(const std::exception& e) noexcept {
    if (w_.stats().internal_error.empty()) {
        try { w_.stats().internal_error = e.what(); } catch (...) {}
    }
    finish();
}

void Conn::connect_now() {
    const Endpoint& ep = w_.plan().target;
    fd_ = new_stream_socket(ep);
    if (fd_ < 0) {
        connect_failed(fmt::format("socket: {}", std::strerror(errno)));
        return;
    }
    event_assign(rev_.get(), w_.base(), fd_, EV_READ | EV_PERSIST, on_readable, this);
    event_assign(wev_.get(), w_.base(), fd_, EV_WRITE, on_writable, this);
    started_ = Clock::now();
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&ep.addr), ep.addr_len) == 0) {
        connected();
        return;
    }
    if (errno == EINPROGRESS) {
        state_ = State::Connecting;
        event_add(wev_.get(), nullptr);
        retry_in(w_.plan().timeout);   // the connect deadline
        return;
    }
    if (errno == EAGAIN) {
        // A Unix socket's listen queue is full: the server is busy accepting, not
        // failing. Knock again shortly; not an error.
        close_socket();
        state_ = State::Down;
        retry_in(backlog_full_pause);
        return;
    }
    connect_failed(std::strerror(errno));
}

void Conn::connected() {
    stop_timer();
    event_del(wev_.get());
    ++w_.stats().connects;
    served_ = 0;
    event_add(rev_.get(), nullptr);
    send_next();
}

void Conn::connect_failed(std::string_view why) {
    w_.stats().count_error(ErrorKind::Connect, fmt::format("connect {}: {}", w_.plan().target.text, why));
    close_socket();
    if (!w_.more()) {
        finish();
        return;
    }
    state_ = State::Down;
    retry_in(connect_retry_pause);
}

void Conn::send_next() {
    std::uint64_t seq = 0;
    // Claim the state first: the last take_seq() ends the idle connections, not this one.
    state_ = State::Writing;
    if (!w_.take_seq(seq)) {
        finish();
        return;
    }
    request_ = w_.source().render(seq, {scratch_.get(), scratch_size_});
    if (request_.empty()) throw std::length_error("generated request larger than its buffer");
    written_ = 0;
    in_len_ = 0;
    started_ = Clock::now();
    // Lazy timeout: the timer stays armed across requests and, when it fires, checks
    // the request in flight then; no timer is added or removed per request.
    if (!timer_armed_) retry_in(w_.plan().timeout);
    write_some();
}

void Conn::write_some() {
    while (written_ < request_.size()) {
        const ssize_t n = send(fd_, request_.data() + written_, request_.size() - written_, MSG_NOSIGNAL);
        if (n > 0) {
            written_ += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(wev_.get(), nullptr);
            return;
        } else {
            fail(ErrorKind::Write, fmt::format("write: {}", n < 0 ? std::strerror(errno) : "wrote nothing"));
            return;
        }
    }
    state_ = State::Waiting;
}

void Conn::read_reply() {
    if (state_ != State::Writing && state_ != State::Waiting) return;
    const ssize_t n = recv(fd_, in_.get() + in_len_, reply_capacity - in_len_, 0);
    if (n == 0) {
        fail(ErrorKind::Eof, "server closed the connection with a request in flight");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            fail(ErrorKind::Read, fmt::format("read: {}", std::strerror(errno)));
        return;
    }
    const std::size_t before = in_len_;
    in_len_ += static_cast<std::size_t>(n);
    const std::string_view got(in_.get(), in_len_);
    if (state_ == State::Writing) {
        fail(ErrorKind::Malformed, fmt::format("reply before the whole request was sent: '{}'", log::sanitize(got, 60)));
        return;
    }
    const auto end = got.find("\n\n", before == 0 ? 0 : before - 1);
    if (end == std::string_view::npos) {
        // Postfix would wait for the empty line forever; say what is wrong instead.
        if (got.find("\r\n\r\n") != std::string_view::npos)
            fail(ErrorKind::Malformed, fmt::format("CR LF line ends: '{}'", log::sanitize(got, 60)));
        else if (in_len_ == reply_capacity)
            fail(ErrorKind::Malformed, fmt::format("reply longer than {} bytes: '{}'", reply_capacity, log::sanitize(got, 60)));
        return;
    }
    const std::string_view reply = got.substr(0, end + 2);
    if (reply.size() != got.size()) {
        fail(ErrorKind::Malformed, fmt::format("data after the reply: '{}'", log::sanitize(got, 60)));
        return;
    }
    const Reply r = check_reply(reply);
    if (r.status != ReplyStatus::Ok) {
        fail(ErrorKind::Malformed, fmt::format("{}: '{}'", to_string(r.status), log::sanitize(reply, 60)));
        return;
    }
    LoadResult& st = w_.stats();
    st.latency.record(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count()));
    ++st.ok;
    st.actions.add(r.first_word);
    in_len_ = 0;
    ++served_;
    if (w_.plan().reconnect_after != 0 && served_ >= w_.plan().reconnect_after) {
        close_socket();
        if (!w_.more()) finish();
        else connect_now();
        return;
    }
    send_next();
}

void Conn::timer_fired() {
    const auto now = Clock::now();
    const auto deadline = started_ + w_.plan().timeout;
    switch (state_) {
    case State::Down:
        if (w_.more()) connect_now();
        else finish();
        return;
    case State::Connecting:
        if (now >= deadline) connect_failed("timed out");
        else retry_in(deadline - now);
        return;
    case State::Writing:
    case State::Waiting:
        if (now >= deadline)
            fail(ErrorKind::Timeout, fmt::format("no reply within {} ms", w_.plan().timeout.count()));
        else retry_in(deadline - now);
        return;
    case State::Done:
        return;
    }
}

void Conn::fail(ErrorKind kind, std::string_view why) {
    w_.stats().count_error(kind, why);
    close_socket();
    if (!w_.more()) {
        finish();
        return;
    }
    // Reopen from the event loop, not from here: a server that fails every request
    // at once must not recurse through connect/send/fail.
    state_ = State::Down;
    retry_in(Clock::duration::zero());
}

void Conn::stop_if_idle() {
    if (state_ == State::Down || state_ == State::Connecting) finish();
}

void Conn::cut() {
    if (state_ == State::Writing || state_ == State::Waiting)
        w_.stats().count_error(ErrorKind::Unfinished, "still in flight at --max-duration");
    close_socket();
    stop_timer();
    state_ = State::Done;
}

void Conn::finish() {
    close_socket();
    stop_timer();
    if (state_ != State::Done) {
        state_ = State::Done;
        w_.conn_done();
    }
}

void Conn::close_socket() noexcept {
    if (rev_) event_del(rev_.get());
    if (wev_) event_del(wev_.get());
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    in_len_ = 0;
}

void Conn::retry_in(Clock::duration d) noexcept {
    const timeval tv = to_timeval(d);
    event_del(timer_.get());
    timer_armed_ = event_add(timer_.get(), &tv) == 0;
}

void Conn::stop_timer() noexcept {
    event_del(timer_.get());
    timer_armed_ = false;
}

// ---- Worker ---------------------------------------------------------------

Worker::Worker(const LoadPlan& plan, const RequestSource& source, unsigned index, Clock::time_point start)
    : plan_(plan), source_(source), index_(index), start_(start) {
    event_config* cfg = event_config_new();
    if (cfg == nullptr) throw std::bad_alloc();
    // Timeouts are checked against the cached loop time otherwise; latencies are
    // measured with steady_clock anyway.
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    base_.reset(event_base_new_with_config(cfg));
    event_config_free(cfg);
    if (!base_) throw std::runtime_error("event_base_new failed");

    const unsigned t = plan.threads;
    const unsigned nconns = plan.connections / t + (index < plan.connections % t ? 1 : 0);
    if (plan.requests != 0) quota_ = plan.requests / t + (index < plan.requests % t ? 1 : 0);
    duration_timer_.reset(new_event(base(), -1, 0, on_duration, this));
    cap_timer_.reset(new_event(base(), -1, 0, on_cap, this));
    conns_.reserve(nconns);
    for (unsigned i = 0; i < nconns; ++i) conns_.push_back(std::make_unique<Conn>(*this));
}

void Worker::run() {
    const auto now = Clock::now();
    if (plan_.duration.count() > 0) {
        const timeval tv = to_timeval(start_ + plan_.duration - now);
        event_add(duration_timer_.get(), &tv);
    }
    const timeval cap = to_timeval(start_ + plan_.max_duration - now);
    event_add(cap_timer_.get(), &cap);
    live_ = static_cast<unsigned>(conns_.size());
    if (live_ == 0 || quota_ == 0) {
        end_ = Clock::now();
        return;
    }
    for (auto& c : conns_) c->start();
    event_base_dispatch(base());
    if (end_ == Clock::time_point{}) end_ = Clock::now();
}

bool Worker::take_seq(std::uint64_t& seq) {
    if (!more()) return false;
    // Worker i of t sends i, i+t, i+2t, ...: together exactly 0..requests-1.
    seq = index_ + issued_ * plan_.threads;
    ++issued_;
    ++result_.requests;
    if (issued_ == quota_) stop_issuing();
    return true;
}

void Worker::conn_done() noexcept {
    if (live_ > 0 && --live_ == 0) {
        end_ = Clock::now();
        event_base_loopbreak(base());
    }
}

void Worker::stop_issuing() {
    stopping_ = true;
    event_del(duration_timer_.get());
    for (auto& c : conns_) c->stop_if_idle();
}

void Worker::on_duration(evutil_socket_t, short, void* arg) noexcept {
    auto* w = static_cast<Worker*>(arg);
    try { w->stop_issuing(); } catch (...) { event_base_loopbreak(w->base()); }
}

void Worker::on_cap(evutil_socket_t, short, void* arg) noexcept {
    auto* w = static_cast<Worker*>(arg);
    w->stopping_ = true;
    w->result_.cut_by_cap = true;
    for (auto& c : w->conns_) c->cut();
    w->end_ = Clock::now();
    event_base_loopbreak(w->base());
}

}  // namespace

LoadResult run_load(const LoadPlan& plan, const RequestSource& source) {
    const auto start = Clock::now();
    const unsigned t = std::max(1U, plan.threads);
    std::vector<LoadResult> results(t);
    std::vector<Clock::time_point> ends(t, start);
    auto work = [&](unsigned i) noexcept {
        try {
            Worker w(plan, source, i, start);
            w.run();
            results[i] = std::move(w.stats());
            ends[i] = w.end();
        } catch (const std::exception& e) {
            results[i].internal_error = e.what();
            ends[i] = Clock::now();
        }
    };
    if (t == 1) {
        work(0);
    } else {
        std::vector<std::thread> threads;
        threads.reserve(t);
        for (unsigned i = 0; i < t; ++i) threads.emplace_back(work, i);
        for (auto& th : threads) th.join();
    }
    LoadResult total;
    for (const auto& r : results) total.merge(r);
    const auto end = *std::max_element(ends.begin(), ends.end());
    total.elapsed_s = std::chrono::duration<double>(end - start).count();
    return total;
}

}  // namespace rpd::bench
