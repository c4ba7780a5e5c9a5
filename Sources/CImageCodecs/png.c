// PNG decoding over libpng. Every libpng call runs under setjmp; the error callback copies
// libpng's message into lic_info before jumping back.
#include "CImageCodecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

// CRC-32 as in the PNG spec (bitwise: the header is 17 bytes, speed does not matter).
static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static lic_status fail(lic_info *info, lic_status status, const char *message) {
    snprintf(info->message, sizeof info->message, "%s", message);
    return status;
}

lic_status lic_png_read_header(const uint8_t *data, size_t size, lic_info *info) {
    memset(info, 0, sizeof *info);
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size < 8 || memcmp(data, signature, 8) != 0) return fail(info, LIC_ERROR_CORRUPT, "no PNG signature");
    if (size < 33) return fail(info, LIC_ERROR_CORRUPT, "file ends inside the IHDR chunk");
    const uint8_t *chunk = data + 8;
    if (be32(chunk) != 13 || memcmp(chunk + 4, "IHDR", 4) != 0)
        return fail(info, LIC_ERROR_CORRUPT, "first chunk is not a 13-byte IHDR");
    if (crc32_png(chunk + 4, 17) != be32(chunk + 21)) return fail(info, LIC_ERROR_CORRUPT, "IHDR CRC error");
    const uint8_t *ihdr = chunk + 8;
    info->width = (int32_t)(be32(ihdr) & 0x7FFFFFFF);
    info->height = (int32_t)(be32(ihdr + 4) & 0x7FFFFFFF);
    if (be32(ihdr) > 0x7FFFFFFF || be32(ihdr + 4) > 0x7FFFFFFF)
        return fail(info, LIC_ERROR_CORRUPT, "IHDR dimension exceeds 2^31-1");
    int bits = ihdr[8], type = ihdr[9];
    info->source_bits = bits;
    info->source_type = type;
    info->interlaced = ihdr[12];
    int ok_bits;
    switch (type) {
    case 0: ok_bits = bits == 1 || bits == 2 || bits == 4 || bits == 8 || bits == 16; info->channels = 1; break;
    case 2: ok_bits = bits == 8 || bits == 16; info->channels = 3; break;
    case 3: ok_bits = bits == 1 || bits == 2 || bits == 4 || bits == 8; info->channels = 3; break;
    case 4: ok_bits = bits == 8 || bits == 16; info->channels = 2; break;
    case 6: ok_bits = bits == 8 || bits == 16; info->channels = 4; break;
    default: return fail(info, LIC_ERROR_CORRUPT, "invalid IHDR colour type");
    }
    if (!ok_bits) return fail(info, LIC_ERROR_CORRUPT, "invalid IHDR bit depth for its colour type");
    if (ihdr[10] != 0 || ihdr[11] != 0 || ihdr[12] > 1)
        return fail(info, LIC_ERROR_CORRUPT, "invalid IHDR compression, filter or interlace method");
    info->bit_depth = bits == 16 ? 16 : 8;
    return LIC_OK;
}

// MARK: - libpng glue

typedef struct {
    const uint8_t *data;
    size_t size, offset;
    lic_info *info;
} png_source;

static void on_error(png_structp png, png_const_charp message) {
    png_source *src = (png_source *)png_get_error_ptr(png);
    snprintf(src->info->message, sizeof src->info->message, "%s", message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png; (void)message;  // ancillary-chunk warnings: Pillow ignores them too
}

static void on_read(png_structp png, png_bytep out, png_size_t n) {
    png_source *src = (png_source *)png_get_io_ptr(png);
    if (n > src->size - src->offset) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(out, src->data + src->offset, n);
    src->offset += n;
}

lic_status lic_png_decode(const uint8_t *data, size_t size, lic_info *info, uint8_t *out, size_t out_size) {
    lic_status status = lic_png_read_header(data, size, info);
    if (status != LIC_OK) return status;
    size_t stride = (size_t)info->width * (size_t)info->channels * (size_t)(info->bit_depth / 8);
    if (info->height != 0 && stride > out_size / (size_t)info->height)
        return fail(info, LIC_ERROR_ARGUMENT, "output buffer too small");

    png_source src = {data, size, 0, info};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    if (!png) return fail(info, LIC_ERROR_MEMORY, "png_create_read_struct failed");
    png_infop pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(info, LIC_ERROR_MEMORY, "png_create_info_struct failed");
    }
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, &pinfo, NULL);
        return LIC_ERROR_CORRUPT;  // message set by on_error
    }
    png_set_read_fn(png, &src, on_read);
    png_set_user_limits(png, 0x7FFFFFFF, 0x7FFFFFFF);  // the caller has checked the size
    png_read_info(png, pinfo);
    int type = png_get_color_type(png, pinfo);
    int bits = png_get_bit_depth(png, pinfo);
    // Palette -> RGB without applying tRNS; 1/2/4-bit gray scaled to 8 bits (x * 255 / max).
    // 16-bit samples and alpha are kept: the Swift side reduces them as Pillow does.
    if (type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);  // this also turns tRNS into an alpha channel…
        if (png_get_valid(png, pinfo, PNG_INFO_tRNS)) png_set_strip_alpha(png);  // …which we drop
    }
    if (type == PNG_COLOR_TYPE_GRAY && bits < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    if (png_get_rowbytes(png, pinfo) != stride) png_error(png, "decoded row size differs from the header's");
    rows = malloc(sizeof(png_bytep) * (size_t)(info->height ? info->height : 1));
    if (!rows) png_error(png, "out of memory for row pointers");
    for (int32_t y = 0; y < info->height; y++) rows[y] = out + (size_t)y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return LIC_OK;
}
