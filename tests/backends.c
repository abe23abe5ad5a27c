/* backends.c - prints the names of the backends the running kernel supports, one
 * per line, as tests/run.sh needs them (uring epoll poll select). */
#include <stdio.h>

#include <tide.h>

int main(void) {
  static const struct { unsigned bit; const char *name; } all[] = {
    {TIDE_BACKEND_URING, "uring"}, {TIDE_BACKEND_EPOLL, "epoll"},
    {TIDE_BACKEND_POLL, "poll"}, {TIDE_BACKEND_SELECT, "select"}};
  const unsigned mask = tide_backends_supported();
  for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++)
    if (mask & all[i].bit) puts(all[i].name);
  return 0;
}
