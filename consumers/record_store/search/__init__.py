"""FHIR search over the shared record: which parameters each resource type has (`parameters`), the values
each resource is indexed under (`extract`), how a request's parameters become SQL (`query`), and the
bundle's paging, includes and shaping (`paging`, `include`, `shape`)."""
