// Placeholder header; the image decoding layer is being written.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
int lic_placeholder(void);
#endif
