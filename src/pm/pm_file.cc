#include <fcntl.h>
#include <libpmem2.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "pastel/pm.h"

namespace pastel {

std::string_view MediumName(Medium m) {
  switch (m) {
    case Medium::kDax: return "persistent memory (DAX)";
    case Medium::kEmulated: return "emulated persistent memory (tmpfs)";
    case Medium::kFile: return "regular file (page cache)";
  }
  return "?";
}

namespace {

Status Pmem2Error(std::string_view what) {
  std::string m(what);
  m += ": ";
  m += pmem2_errormsg();
  return Status::IoError(std::move(m));
}

}  // namespace

Result<PmFile> PmFile::Create(const std::string& path, size_t size, const PmOpenOptions& o) {
  if (size == 0) {
    return Status::InvalidArgument("cannot create an empty file: " + path);
  }
  // 0600: pool and log files hold users' data; nobody else reads them.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::AlreadyExists(path + " already exists");
    }
    return Status::FromErrno("create " + path, errno);
  }
  // PERSIST: none yet; the file holds zeros (never-written space) until its owner formats it.
  int err = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
  if (err != 0) {
    ::close(fd);
    ::unlink(path.c_str());
    return Status::FromErrno("allocate " + std::to_string(size) + " bytes for " + path, err);
  }
  PmOpenOptions rw = o;
  rw.read_only = false;
  Result<PmFile> f = Map(fd, path, rw);
  if (!f.ok()) {
    ::unlink(path.c_str());
  }
  return f;
}

Result<PmFile> PmFile::Open(const std::string& path, const PmOpenOptions& o) {
  int fd = ::open(path.c_str(), (o.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return Status::NotFound(path + " does not exist");
    }
    if (errno == EISDIR) {
      return Status::InvalidArgument(path + " is a directory");
    }
    return Status::FromErrno("open " + path, errno);
  }
  return Map(fd, path, o);
}

Result<PmFile> PmFile::Map(int fd, std::string path, const PmOpenOptions& o) {
  PmFile f;
  f.fd_ = fd;  // closed by f's destructor on every error path below
  f.path_ = std::move(path);
  f.read_only_ = o.read_only;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Status::FromErrno("stat " + f.path_, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument(f.path_ + " is not a regular file");
  }
  if (st.st_size == 0) {
    return Status::Corruption(f.path_ + " is empty");
  }
  struct statfs sfs {};
  if (::fstatfs(fd, &sfs) != 0) {
    return Status::FromErrno("statfs " + f.path_, errno);
  }
  const bool tmpfs = sfs.f_type == TMPFS_MAGIC;

  pmem2_source* src = nullptr;
  if (pmem2_source_from_fd(&src, fd) != 0) {
    return Pmem2Error("pmem2 source for " + f.path_);
  }
  pmem2_config* cfg = nullptr;
  if (pmem2_config_new(&cfg) != 0) {
    pmem2_source_delete(&src);
    return Pmem2Error("pmem2 config");
  }
  // Accept any granularity: PAGE is the weakest, and we pick the PersistOps that fit what we get.
  int rc = pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
  if (rc == 0 && o.read_only) {
    rc = pmem2_config_set_protection(cfg, PMEM2_PROT_READ);
  }
  if (rc == 0) {
    rc = pmem2_map_new(&f.map_, cfg, src);
  }
  pmem2_config_delete(&cfg);
  pmem2_source_delete(&src);
  if (rc != 0) {
    return Pmem2Error("map " + f.path_);
  }
  f.data_ = static_cast<uint8_t*>(pmem2_map_get_address(f.map_));
  f.size_ = pmem2_map_get_size(f.map_);
  const pmem2_granularity g = pmem2_map_get_store_granularity(f.map_);

  Granularity want;
  if (g == PMEM2_GRANULARITY_BYTE) {
    f.medium_ = Medium::kDax;
    want = Granularity::kByte;
  } else if (g == PMEM2_GRANULARITY_CACHE_LINE) {
    f.medium_ = Medium::kDax;
    want = Granularity::kCacheLine;
  } else if (tmpfs) {
    // Emulated PM: tmpfs pages are the medium itself; clwb + sfence orders them like real PM.
    f.medium_ = Medium::kEmulated;
    want = Granularity::kCacheLine;
  } else {
    f.medium_ = Medium::kFile;
    want = Granularity::kPage;
  }
  if (o.force_granularity) {
    want = o.granularity;
  }
  switch (want) {
    case Granularity::kByte: f.ops_ = MakeFenceOnlyOps(); break;
    case Granularity::kCacheLine: f.ops_ = MakeCacheLineOps(BestFlushInstr()); break;
    case Granularity::kPage: f.ops_ = MakePageOps(f.data_, f.size_, fd, o.page_sync); break;
  }
  return f;
}

PmFile::PmFile(PmFile&& other) noexcept {
  *this = std::move(other);
}

PmFile& PmFile::operator=(PmFile&& other) noexcept {
  if (this != &other) {
    Reset();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    map_ = std::exchange(other.map_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    medium_ = other.medium_;
    read_only_ = other.read_only_;
    ops_ = std::move(other.ops_);
  }
  return *this;
}

PmFile::~PmFile() {
  Reset();
}

void PmFile::Reset() {
  if (map_ != nullptr) {
    pmem2_map_delete(&map_);
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = -1;
  data_ = nullptr;
  size_ = 0;
  ops_.reset();
}

void PmFile::PreferSmallFolios() const {
  if (medium_ == Medium::kFile && !read_only_) {
    (void)::madvise(data_, size_, MADV_RANDOM);  // (refused: syncs are only slower)
  }
}

std::string PmFile::DescribeDurability() const {
  std::string s(MediumName(medium_));
  switch (medium_) {
    case Medium::kDax: s += ": survives a power cut"; break;
    case Medium::kEmulated: s += ": survives a process crash, NOT a power cut or reboot"; break;
    case Medium::kFile: s += ": survives a power cut once msync/fdatasync returned"; break;
  }
  s += "; granularity ";
  s += GranularityName(granularity());
  s += " (";
  s += ops_->name();
  s += ")";
  return s;
}

}  // namespace pastel
