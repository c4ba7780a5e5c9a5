#include "CImageCodecs.h"
int lic_placeholder(void) { return 0; }
