#pragma once
// Socket helpers shared by the backends.

#include <netinet/in.h>

#include <string_view>

#include "pastel/status.h"

namespace pastel::net {

// "127.0.0.1:8080" (or "localhost:8080") -> sockaddr_in.
Result<sockaddr_in> ParseIpv4(std::string_view addr);
Status SetNonBlocking(int fd);
void SetNoDelay(int fd);
// True when the connected socket's peer is a loopback address (127.0.0.0/8, ::1, or
// ::ffff:127.x.y.z): its traffic never leaves the host.
bool PeerIsLoopback(int fd);

}  // namespace pastel::net
