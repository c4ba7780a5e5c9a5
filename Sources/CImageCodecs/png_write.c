// PNG encoding over libpng, for the synthetic data set: 8-bit RGB, no interlace, no time or
// text chunks, fixed compression settings, so the same pixels always give the same bytes.
#include "CImageCodecs.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    lic_buffer *buffer;
} png_sink;

static void on_write_error(png_structp png, png_const_charp message) {
    png_sink *sink = (png_sink *)png_get_error_ptr(png);
    snprintf(sink->buffer->message, sizeof sink->buffer->message, "%s", message);
    png_longjmp(png, 1);
}

static void on_write_warning(png_structp png, png_const_charp message) {
    (void)png; (void)message;
}

static void on_write(png_structp png, png_bytep data, png_size_t n) {
    png_sink *sink = (png_sink *)png_get_io_ptr(png);
    lic_buffer *b = sink->buffer;
    if (b->size + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->size + n) capacity *= 2;
        uint8_t *grown = realloc(b->data, capacity);
        if (!grown) png_error(png, "out of memory for the PNG output buffer");
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->size, data, n);
    b->size += n;
}

static void on_flush(png_structp png) { (void)png; }

lic_status lic_png_encode_rgb8(const uint8_t *pixels, int32_t width, int32_t height, lic_buffer *out) {
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0) {
        snprintf(out->message, sizeof out->message, "invalid PNG size %dx%d", width, height);
        return LIC_ERROR_ARGUMENT;
    }
    png_sink sink = {out};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_write_error, on_write_warning);
    if (!png) {
        snprintf(out->message, sizeof out->message, "png_create_write_struct failed");
        return LIC_ERROR_MEMORY;
    }
    png_infop pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_destroy_write_struct(&png, NULL);
        snprintf(out->message, sizeof out->message, "png_create_info_struct failed");
        return LIC_ERROR_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &pinfo);
        free(out->data);
        out->data = NULL;
        out->size = out->capacity = 0;
        return LIC_ERROR_CORRUPT;  // message set by on_write_error
    }
    png_set_write_fn(png, &sink, on_write, on_flush);
    png_set_compression_level(png, 6);
    png_set_IHDR(png, pinfo, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, pinfo);
    size_t stride = (size_t)width * 3;
    for (int32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &pinfo);
    return LIC_OK;
}

void lic_buffer_free(lic_buffer *buffer) {
    free(buffer->data);
    buffer->data = NULL;
    buffer->size = buffer->capacity = 0;
}
