#include <zlib.h>

/* inflateInit2 is a macro; Swift sees this function instead. windowBits 15 + 32 accepts a
   gzip or a zlib header. */
static inline int czlib_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 32);
}
