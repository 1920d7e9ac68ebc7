#include "net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

#include "pastel/net.h"

namespace pastel {

std::string_view BackendKindName(BackendKind k) {
  return k == BackendKind::kUring ? "uring" : "epoll";
}

Result<BackendKind> ParseBackendKind(std::string_view s) {
  if (s == "uring") {
    return BackendKind::kUring;
  }
  if (s == "epoll") {
    return BackendKind::kEpoll;
  }
  return Status::InvalidArgument("backend must be uring or epoll, not '" + std::string(s) + "'");
}

namespace net {

Result<sockaddr_in> ParseIpv4(std::string_view addr) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("address '" + std::string(addr) + "' is not ADDR:PORT");
  }
  const std::string host(addr.substr(0, colon));
  const std::string_view port_s = addr.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_s.data(), port_s.data() + port_s.size(), port);
  if (ec != std::errc() || end != port_s.data() + port_s.size() || port > 65535 || port_s.empty()) {
    return Status::InvalidArgument("bad port in '" + std::string(addr) + "'");
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  const std::string h = host == "localhost" ? "127.0.0.1" : host;
  if (::inet_pton(AF_INET, h.c_str(), &sa.sin_addr) != 1) {
    return Status::InvalidArgument("bad IPv4 address in '" + std::string(addr) + "'");
  }
  return sa;
}

Status SetNonBlocking(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    return Status::FromErrno("fcntl O_NONBLOCK", errno);
  }
  return Status::Ok();
}

void SetNoDelay(int fd) {
  const int one = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool PeerIsLoopback(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return false;
  }
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
  }
  return false;
}

}  // namespace net

Result<int> ListenTcp(std::string_view addr, int backlog) {
  Result<sockaddr_in> sa = net::ParseIpv4(addr);
  if (!sa.ok()) {
    return sa.status();
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Status::FromErrno("socket", errno);
  }
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::FromErrno("setsockopt SO_REUSEPORT", err);
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*sa), sizeof(*sa)) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::FromErrno("bind " + std::string(addr), err);
  }
  if (::listen(fd, backlog) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::FromErrno("listen " + std::string(addr), err);
  }
  return fd;
}

Result<uint16_t> LocalPort(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    return Status::FromErrno("getsockname", errno);
  }
  return ntohs(sa.sin_port);
}

}  // namespace pastel
