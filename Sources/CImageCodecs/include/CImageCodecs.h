// CImageCodecs: a small C layer over libpng and libjpeg-turbo (TurboJPEG API) for Vision.
//
// Why C: libpng reports errors by longjmp, which Swift cannot catch, so every libpng call
// sits behind setjmp here and errors come back as codes + messages. Nothing here aborts.
//
// Protocol: call lic_*_read_header first (cheap: no pixel buffer is allocated), let the
// caller check the size, allocate width*height*channels*(bit_depth/8) bytes, then call
// lic_*_decode. Samples are written in the source's own mode (see lic_info) so the caller can
// convert to RGB with the exact rules of the library it wants to match (Pillow).
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    LIC_OK = 0,
    LIC_ERROR_CORRUPT = 1,      // malformed or truncated data; message says what the codec saw
    LIC_ERROR_UNSUPPORTED = 2,  // valid file in a mode we do not decode (e.g. CMYK JPEG)
    LIC_ERROR_MEMORY = 3,       // codec could not allocate its state
    LIC_ERROR_ARGUMENT = 4,     // output buffer too small for the header's size
} lic_status;

typedef struct {
    int32_t width;
    int32_t height;
    // Decoded sample layout: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (palette PNGs decode to RGB,
    // gray below 8 bits is scaled to 8 bits as libpng and Pillow both do).
    int32_t channels;
    // 8, or 16 for 16-bit PNGs (big-endian samples, as stored in the file).
    int32_t bit_depth;
    // PNG: IHDR colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA) and bit depth
    // as stored. JPEG: TurboJPEG colour space (TJCS_*) and chroma subsampling (TJSAMP_*).
    int32_t source_type;
    int32_t source_bits;
    int32_t interlaced;  // PNG Adam7, or progressive JPEG (not known from the header: 0)
    char message[256];   // set on every error
} lic_info;

// PNG. The header is parsed by hand (signature + IHDR with CRC check) so that a file whose
// IHDR is followed by garbage still reports its declared size.
lic_status lic_png_read_header(const uint8_t *data, size_t size, lic_info *info);
lic_status lic_png_decode(const uint8_t *data, size_t size, lic_info *info,
                          uint8_t *out, size_t out_size);

// JPEG through TurboJPEG with the accurate integer DCT (islow) and fancy upsampling, which is
// what Pillow's libjpeg path uses. Gray JPEGs decode to 1 channel, colour ones to RGB;
// CMYK/YCCK are reported as LIC_ERROR_UNSUPPORTED.
lic_status lic_jpeg_read_header(const uint8_t *data, size_t size, lic_info *info);
lic_status lic_jpeg_decode(const uint8_t *data, size_t size, lic_info *info,
                           uint8_t *out, size_t out_size);

// PNG encoding (png_write.c): 8-bit RGB rows of width*3 bytes into a growing buffer that the
// caller releases with lic_buffer_free. Deterministic: no time or text chunks.
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    char message[256];  // set on every error
} lic_buffer;

lic_status lic_png_encode_rgb8(const uint8_t *pixels, int32_t width, int32_t height, lic_buffer *out);
void lic_buffer_free(lic_buffer *buffer);

#ifdef __cplusplus
}
#endif
#endif
