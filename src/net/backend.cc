#include "net/epoll_backend.h"
#include "net/uring_backend.h"
#include "pastel/net.h"

namespace pastel {

BackendKind Backend::Probe(std::string* why) {
  Status st = net::ProbeUring();
  if (st.ok()) {
    return BackendKind::kUring;
  }
  if (why != nullptr) {
    *why = st.ToString();
  }
  return BackendKind::kEpoll;
}

Result<std::unique_ptr<Backend>> Backend::Create(BackendKind kind, Pool& pool, uint32_t partition,
                                                 const NetOptions& options) {
  if (kind == BackendKind::kUring) {
    return net::MakeUringBackend(pool, partition, options);
  }
  return net::MakeEpollBackend(pool, partition, options);
}

}  // namespace pastel
