#include "core/frame_allocator.h"

#include <new>

namespace apisix::core {
namespace {

constexpr std::size_t kClassBytes = 64;
constexpr std::size_t kClasses = 32;  // frames up to 2 KiB are recycled
constexpr std::size_t kMaxCachedPerClass = 4096;

struct FreeBlock {
  FreeBlock* next;
};

struct FreeLists {
  FreeBlock* heads[kClasses] = {};
  std::size_t counts[kClasses] = {};
  ~FreeLists() {
    for (auto& head : heads) {
      while (head != nullptr) {
        FreeBlock* next = head->next;
        ::operator delete(head);
        head = next;
      }
    }
  }
};

thread_local FreeLists tls_lists;

std::size_t class_of(std::size_t bytes) { return (bytes + kClassBytes - 1) / kClassBytes; }

}  // namespace

void* allocate_frame(std::size_t bytes) {
  std::size_t cls = class_of(bytes);
  if (cls < kClasses) {
    FreeBlock*& head = tls_lists.heads[cls];
    if (head != nullptr) {
      FreeBlock* block = head;
      head = block->next;
      --tls_lists.counts[cls];
      return block;
    }
    return ::operator new(cls* kClassBytes);
  }
  return ::operator new(bytes);
}

void free_frame(void* block, std::size_t bytes) noexcept {
  std::size_t cls = class_of(bytes);
  if (cls < kClasses && tls_lists.counts[cls] < kMaxCachedPerClass) {
    auto* free_block = static_cast<FreeBlock*>(block);
    free_block->next = tls_lists.heads[cls];
    tls_lists.heads[cls] = free_block;
    ++tls_lists.counts[cls];
    return;
  }
  ::operator delete(block);
}

}  // namespace apisix::core
