// The whole public API of evbus. See README.md for a tour.

#ifndef EVBUS_EVBUS_H_
#define EVBUS_EVBUS_H_

#include "evbus/census.h"
#include "evbus/cloudevents.h"
#include "evbus/config.h"
#include "evbus/database.h"
#include "evbus/envelope.h"
#include "evbus/event_bus.h"
#include "evbus/export.h"
#include "evbus/handler.h"
#include "evbus/inbox.h"
#include "evbus/middleware.h"
#include "evbus/ops.h"
#include "evbus/outbox.h"
#include "evbus/publish_options.h"
#include "evbus/record.h"
#include "evbus/status.h"
#include "evbus/trace_context.h"
#include "evbus/version.h"

#endif  // EVBUS_EVBUS_H_
