#include "activities/curl_http_client.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <optional>
#include <string_view>

#include "core/duration.h"

namespace trellis {
namespace {

std::string_view TrimWhitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string ToUpper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ToLower(a) == ToLower(b);
}

// RFC 9110 token characters: methods and header names.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool IsSafeHeaderValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string FormatBytes(size_t bytes) {
  constexpr size_t kMiB = size_t{1024} * 1024;
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// curl_global_init is not thread-safe; a function-local static runs it exactly once.
CURLcode GlobalInit() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  return code;
}

// One easy + multi handle per thread: the multi handle owns the connection cache, so requests made
// one after another on a thread reuse connections. A thread's handles are tied to one client (its
// id): cached connections were vetted by that client's guard, so another client starts afresh.
struct ThreadHandles {
  CURL* easy = nullptr;
  CURLM* multi = nullptr;
  uint64_t owner = 0;

  ThreadHandles() = default;
  ThreadHandles(const ThreadHandles&) = delete;
  ThreadHandles& operator=(const ThreadHandles&) = delete;
  ~ThreadHandles() { Reset(); }

  void Reset() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (multi != nullptr) curl_multi_cleanup(multi);
    easy = nullptr;
    multi = nullptr;
    owner = 0;
  }
};

thread_local ThreadHandles tls_handles;

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlString {
  char* ptr = nullptr;
  CurlString() = default;
  CurlString(const CurlString&) = delete;
  CurlString& operator=(const CurlString&) = delete;
  ~CurlString() { curl_free(ptr); }
};

// State shared with curl's callbacks for one transfer.
struct Transfer {
  const SsrfGuard* guard = nullptr;
  std::string host;              // as curl parsed it from the URL
  std::optional<Status> denied;  // the first address the guard refused
  int sockets_opened = 0;
  size_t max_body = 0;
  bool body_too_large = false;
  HttpResponseData response;
};

curl_socket_t OpenSocket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
  auto* transfer = static_cast<Transfer*>(clientp);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  // The last gate before connect(): this is the address curl resolved, not the URL's name.
  Status allowed = transfer->guard->CheckAddress(transfer->host, &address->addr);
  if (!allowed.ok()) {
    if (!transfer->denied) transfer->denied = std::move(allowed);
    return CURL_SOCKET_BAD;
  }
  curl_socket_t fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd != CURL_SOCKET_BAD) ++transfer->sockets_opened;
  return fd;
}

size_t OnBody(char* data, size_t size, size_t count, void* userp) {
  auto* transfer = static_cast<Transfer*>(userp);
  const size_t bytes = size * count;
  if (transfer->response.body.size() + bytes > transfer->max_body) {
    transfer->body_too_large = true;
    return 0;  // anything but `bytes` aborts the transfer with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, bytes);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* userp) {
  auto* transfer = static_cast<Transfer*>(userp);
  const size_t bytes = size * count;
  std::string_view raw(data, bytes);
  auto& headers = transfer->response.headers;
  // A status line starts a new response (after a 1xx interim one): keep only the final headers.
  if (raw.starts_with("HTTP/")) {
    headers.clear();
    return bytes;
  }
  if (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t')) {  // obsolete line folding
    std::string_view more = TrimWhitespace(raw);
    if (!headers.empty() && !more.empty()) headers.back().second.append(" ").append(more);
    return bytes;
  }
  std::string_view line = TrimWhitespace(raw);
  const auto colon = line.find(':');
  if (line.empty() || colon == std::string_view::npos) return bytes;
  headers.emplace_back(ToLower(TrimWhitespace(line.substr(0, colon))),
                       TrimWhitespace(line.substr(colon + 1)));
  return bytes;
}

class CurlHttpClient final : public HttpClient {
 public:
  CurlHttpClient(SsrfGuard guard, CurlHttpClientOptions options)
      : guard_(std::move(guard)), options_(std::move(options)) {}

  Result<HttpResponseData> Send(const HttpRequestSpec& spec) override;

 private:
  static uint64_t NextId() {
    static std::atomic<uint64_t> next{1};
    return next++;
  }

  Status Validate(const HttpRequestSpec& spec) const;
  Result<curl_slist*> BuildHeaders(const HttpRequestSpec& spec, bool sends_body) const;
  struct Outcome {
    Status internal;  // the multi interface itself failed
    bool done = false;
    bool cancelled = false;
    CURLcode code = CURLE_OK;
  };
  Outcome Perform(CURL* easy, CURLM* multi, const std::atomic<bool>* cancel) const;

  const SsrfGuard guard_;
  const CurlHttpClientOptions options_;
  const uint64_t id_ = NextId();
};

Status CurlHttpClient::Validate(const HttpRequestSpec& spec) const {
  if (!IsToken(spec.method))
    return InvalidArgument("HttpRequest method '" + spec.method + "' is not a valid HTTP method");
  if (spec.timeout.count() <= 0) return InvalidArgument("HttpRequest timeout must be positive");
  for (const auto& [name, value] : spec.headers) {
    if (!IsToken(name)) return InvalidArgument("HttpRequest header name '" + name + "' is not valid");
    if (!IsSafeHeaderValue(value)) {
      return InvalidArgument("HttpRequest header '" + name + "' contains a line break or NUL character");
    }
  }
  return guard_.CheckUrl(spec.url);
}

Result<curl_slist*> CurlHttpClient::BuildHeaders(const HttpRequestSpec& spec, bool sends_body) const {
  std::unique_ptr<curl_slist, SlistDeleter> list;
  auto append = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (next == nullptr) return false;
    (void)list.release();
    list.reset(next);
    return true;
  };
  bool has_expect = false;
  bool has_content_type = false;
  for (const auto& [name, value] : spec.headers) {
    has_expect |= EqualsIgnoreCase(name, "expect");
    has_content_type |= EqualsIgnoreCase(name, "content-type");
    // curl drops "Name:" (empty value) lines; "Name;" is its syntax for sending an empty header.
    if (!append(value.empty() ? name + ";" : name + ": " + value))
      return Internal("out of memory building headers");
  }
  // 100-continue costs a round trip (or a one-second wait on servers that ignore it).
  if (!has_expect && !append("Expect:")) return Internal("out of memory building headers");
  // Otherwise curl labels every body application/x-www-form-urlencoded; better to send none.
  if (sends_body && !has_content_type && !append("Content-Type:"))
    return Internal("out of memory building headers");
  return list.release();
}

CurlHttpClient::Outcome CurlHttpClient::Perform(CURL* easy, CURLM* multi,
                                                const std::atomic<bool>* cancel) const {
  // The multi interface (rather than curl_easy_perform) lets us look at the cancel flag every
  // cancel_poll_interval instead of only when curl gets round to a progress callback.
  Outcome outcome;
  if (CURLMcode mc = curl_multi_add_handle(multi, easy); mc != CURLM_OK) {
    outcome.internal = Internal(std::string("curl_multi_add_handle: ") + curl_multi_strerror(mc));
    return outcome;
  }
  const int poll_ms = static_cast<int>(std::max<int64_t>(1, options_.cancel_poll_interval.count()));
  while (true) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK) {
      outcome.internal = Internal(std::string("curl_multi_perform: ") + curl_multi_strerror(mc));
      break;
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
        outcome.done = true;
        outcome.code = msg->data.result;
      }
    }
    if (outcome.done) break;
    if (running == 0) {
      outcome.internal = Internal("curl finished without reporting a result");
      break;
    }
    if (cancel != nullptr && cancel->load()) {
      outcome.cancelled = true;
      break;
    }
    mc = curl_multi_poll(multi, nullptr, 0, poll_ms, nullptr);
    if (mc != CURLM_OK) {
      outcome.internal = Internal(std::string("curl_multi_poll: ") + curl_multi_strerror(mc));
      break;
    }
  }
  // Removing an unfinished transfer closes its connection, which is what cancelling needs.
  curl_multi_remove_handle(multi, easy);
  return outcome;
}

// The URL without credentials, query or fragment, which may hold secrets, for error messages.
std::string RedactedUrl(CURLU* url) {
  std::unique_ptr<CURLU, UrlDeleter> copy(curl_url_dup(url));
  if (!copy) return "(url)";
  curl_url_set(copy.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(copy.get(), CURLUPART_PASSWORD, nullptr, 0);
  curl_url_set(copy.get(), CURLUPART_QUERY, nullptr, 0);
  curl_url_set(copy.get(), CURLUPART_FRAGMENT, nullptr, 0);
  CurlString text;
  if (curl_url_get(copy.get(), CURLUPART_URL, &text.ptr, 0) != CURLUE_OK) return "(url)";
  return text.ptr;
}

Result<HttpResponseData> CurlHttpClient::Send(const HttpRequestSpec& spec) {
  if (CURLcode init = GlobalInit(); init != CURLE_OK) {
    return Internal(std::string("curl_global_init failed: ") + curl_easy_strerror(init));
  }
  if (Status valid = Validate(spec); !valid.ok()) return valid;
  // Definitions say `method: post` as often as POST; no real service has lower-case methods.
  const std::string method = ToUpper(spec.method);

  std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
  if (!url) return Internal("out of memory parsing the URL");
  if (CURLUcode uc = curl_url_set(url.get(), CURLUPART_URL, spec.url.c_str(), 0); uc != CURLUE_OK) {
    return InvalidArgument("HttpRequest URL '" + spec.url + "' is invalid: " + curl_url_strerror(uc));
  }
  Transfer transfer;
  {
    CurlString host;
    if (curl_url_get(url.get(), CURLUPART_HOST, &host.ptr, 0) != CURLUE_OK) {
      return InvalidArgument("HttpRequest URL '" + spec.url + "' has no host");
    }
    transfer.host = host.ptr;
  }
  transfer.guard = &guard_;
  transfer.max_body = options_.max_response_bytes;
  const std::string what = "HttpRequest " + method + " " + RedactedUrl(url.get());

  if (spec.cancel != nullptr && spec.cancel->load())
    return Status(StatusCode::kCancelled, what + " cancelled");

  ThreadHandles& handles = tls_handles;
  if (handles.owner != id_) {
    handles.Reset();
    handles.owner = id_;
  }
  if (handles.easy == nullptr) handles.easy = curl_easy_init();
  if (handles.multi == nullptr) handles.multi = curl_multi_init();
  if (handles.easy == nullptr || handles.multi == nullptr)
    return Internal("curl handle initialisation failed");
  CURL* easy = handles.easy;

  const bool sends_body = !spec.body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  auto header_list = BuildHeaders(spec, sends_body);
  if (!header_list.ok()) return header_list.status();
  std::unique_ptr<curl_slist, SlistDeleter> headers(*header_list);

  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_reset(easy);  // keeps the connection cache; clears every option of the last request
  curl_easy_setopt(easy, CURLOPT_CURLU, url.get());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  // A proxy from the environment would be the only address the guard sees.
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(spec.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &OpenSocket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_response_bytes));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
  if (method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (method == "GET" && !sends_body) {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else {
    if (method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (sends_body) {
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(spec.body.size()));
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, spec.body.data());
    }
  }

  Outcome outcome = Perform(easy, handles.multi, spec.cancel);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  // Drop the pointers into this frame (URL, headers, body, error buffer) before they dangle.
  curl_easy_reset(easy);

  if (!outcome.internal.ok()) return outcome.internal;
  if (outcome.cancelled) return Status(StatusCode::kCancelled, what + " cancelled");
  if (transfer.body_too_large || outcome.code == CURLE_FILESIZE_EXCEEDED) {
    return ResourceExhausted(what + ": response body exceeds the " +
                             FormatBytes(options_.max_response_bytes) + " limit");
  }
  if (outcome.code != CURLE_OK) {
    if (transfer.denied && transfer.sockets_opened == 0) return *transfer.denied;
    const std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(outcome.code);
    switch (outcome.code) {
      case CURLE_OPERATION_TIMEDOUT:
        return DeadlineExceeded(what + " timed out after " + FormatDuration(spec.timeout) + " (" + detail +
                                ")");
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT: return InvalidArgument(what + ": " + detail);
      case CURLE_OUT_OF_MEMORY: return Internal(what + ": " + detail);
      default: return Unavailable(what + " failed: " + detail);
    }
  }
  transfer.response.status = status;
  return std::move(transfer.response);
}

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(SsrfGuard guard, CurlHttpClientOptions options) {
  return std::make_unique<CurlHttpClient>(std::move(guard), std::move(options));
}

std::unique_ptr<HttpClient> NewCurlHttpClient(SsrfGuard guard) {
  return NewCurlHttpClient(std::move(guard), CurlHttpClientOptions{});
}

}  // namespace trellis
