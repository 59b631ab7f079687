#include "schema/core_schemas.h"
