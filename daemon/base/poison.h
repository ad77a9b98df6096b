/* Unsafe libc calls are poisoned in every Raven translation unit that includes this
 * header last: use snprintf, memcpy with explicit sizes, and never a shell. */
#ifndef RAVEN_BASE_POISON_H
#define RAVEN_BASE_POISON_H
#pragma GCC poison strcpy strcat sprintf vsprintf gets system
#endif
