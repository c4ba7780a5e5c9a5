// JPEG decoding over TurboJPEG. Accurate (islow) DCT and fancy upsampling: the defaults of
// libjpeg that Pillow decodes with, so the pixels agree exactly.
#include "CImageCodecs.h"

#include <stdio.h>
#include <string.h>
#include <turbojpeg.h>

static lic_status fail_tj(lic_info *info, tjhandle tj, lic_status status) {
    snprintf(info->message, sizeof info->message, "%s", tjGetErrorStr2(tj));
    tjDestroy(tj);
    return status;
}

lic_status lic_jpeg_read_header(const uint8_t *data, size_t size, lic_info *info) {
    memset(info, 0, sizeof *info);
    tjhandle tj = tjInitDecompress();
    if (!tj) {
        snprintf(info->message, sizeof info->message, "%s", tjGetErrorStr2(NULL));
        return LIC_ERROR_MEMORY;
    }
    int width = 0, height = 0, subsamp = 0, colorspace = 0;
    if (tjDecompressHeader3(tj, data, (unsigned long)size, &width, &height, &subsamp, &colorspace) != 0)
        return fail_tj(info, tj, LIC_ERROR_CORRUPT);
    tjDestroy(tj);
    info->width = width;
    info->height = height;
    info->source_type = colorspace;
    info->source_bits = subsamp;
    info->bit_depth = 8;
    switch (colorspace) {
    case TJCS_GRAY: info->channels = 1; break;
    case TJCS_RGB: case TJCS_YCbCr: info->channels = 3; break;
    default:
        snprintf(info->message, sizeof info->message, "%s JPEG",
                 colorspace == TJCS_CMYK ? "CMYK" : colorspace == TJCS_YCCK ? "YCCK" : "unknown colour space");
        return LIC_ERROR_UNSUPPORTED;
    }
    return LIC_OK;
}

lic_status lic_jpeg_decode(const uint8_t *data, size_t size, lic_info *info, uint8_t *out, size_t out_size) {
    lic_status status = lic_jpeg_read_header(data, size, info);
    if (status != LIC_OK) return status;
    size_t stride = (size_t)info->width * (size_t)info->channels;
    if (info->height != 0 && stride > out_size / (size_t)info->height) {
        snprintf(info->message, sizeof info->message, "output buffer too small");
        return LIC_ERROR_ARGUMENT;
    }
    tjhandle tj = tjInitDecompress();
    if (!tj) {
        snprintf(info->message, sizeof info->message, "%s", tjGetErrorStr2(NULL));
        return LIC_ERROR_MEMORY;
    }
    int format = info->channels == 1 ? TJPF_GRAY : TJPF_RGB;
    if (tjDecompress2(tj, data, (unsigned long)size, out, info->width, (int)stride, info->height,
                      format, TJFLAG_ACCURATEDCT) != 0) {
        // Warnings still produce an image. The one warning Pillow refuses is running out of
        // data ("image file is truncated"); other warnings (stray bytes, ...) it accepts.
        const char *message = tjGetErrorStr2(tj);
        if (tjGetErrorCode(tj) != TJERR_WARNING || strstr(message, "Premature end") != NULL)
            return fail_tj(info, tj, LIC_ERROR_CORRUPT);
    }
    tjDestroy(tj);
    return LIC_OK;
}
