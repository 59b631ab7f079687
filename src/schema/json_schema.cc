#include "schema/json_schema.h"
