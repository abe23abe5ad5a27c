// SPDX-License-Identifier: MIT
// phases.cc - idle, prepare, check (and async) watchers: unordered lists with
// O(1) removal (each watcher knows its slot), queued as a whole in their phase.
#include <errno.h>

#include <new>

#include "core/loop.hh"

namespace tide {

std::vector<Watcher *> *Loop::list_for(Kind k) noexcept {
  switch (k) {
    case Kind::idle: return &idles_;
    case Kind::prepare: return &prepares_;
    case Kind::check: return &checks_;
    case Kind::async: return &asyncs_;
    default: return nullptr;
  }
}

int Loop::list_start(Watcher *w) noexcept {
  if (w->active) return 0;
  std::vector<Watcher *> &list = *list_for(w->kind);
  try {
    list.push_back(w);
  } catch (const std::bad_alloc &) {
    return -ENOMEM;
  }
  w->index = static_cast<uint32_t>(list.size() - 1);
  activate(w);
  if (w->kind == Kind::async && static_cast<Async *>(w)->sent.load()) wakeup();
  return 0;
}

void Loop::list_stop(Watcher *w) noexcept {
  clear_pending(w);
  if (!w->active) return;
  std::vector<Watcher *> &list = *list_for(w->kind);
  Watcher *last = list.back();
  list[w->index] = last;
  last->index = w->index;
  list.pop_back();
  deactivate(w);
}

void Loop::queue_list(std::vector<Watcher *> &list, uint32_t revents) noexcept {
  for (Watcher *w : list) feed(w, revents);
}

}  // namespace tide
