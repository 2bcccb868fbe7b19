"""CRM error texts. Legacy CRM methods send a message with an empty code and HTTP 400
(docs/reference/crm.md, "Entities"); the binding methods send named codes."""

from __future__ import annotations

from b24tel.errors import ApiError, business_error


def invalid_id() -> ApiError:
    return business_error("ID is not defined or invalid.")


def not_found() -> ApiError:
    return business_error("Not found")


def entity_not_found(title: str) -> ApiError:
    return business_error(f"{title} is not found")


def must_be_array(name: str) -> ApiError:
    return business_error(f"Parameter '{name}' must be array.")


def required_field(title: str) -> ApiError:
    return business_error(f'The field "{title}" is required.')


def activity_not_found() -> ApiError:
    return business_error("Activity is not found")


def activity_field(name: str, problem: str = "not defined or invalid") -> ApiError:
    return business_error(f"The field {name} is {problem}")


def no_binding() -> ApiError:
    return business_error(
        "Could not build binding. Please ensure that owner info and communications are "
        "defined correctly"
    )


def owner_missing(entity: str, entity_id: int) -> ApiError:
    return business_error(f"Could not find '{entity}' with ID: {entity_id}")


def binding_error(code: str, description: str) -> ApiError:
    return ApiError(code, description, 400)


def required_argument(name: str) -> ApiError:
    return ApiError("100", f"Could not find value for parameter {{{name}}}", 400)


# crm.duplicate.findbycomm reports its message as the error code
# (docs/reference/crm.md, "Duplicates")


def communication_type_missing() -> ApiError:
    return ApiError("Communication type is not defined", "Parameter 'type' is required.", 400)


def communication_type_unsupported(given: str) -> ApiError:
    text = f"Communication type '{given}' is not supported in current context"
    return ApiError(text, text, 400)


def communication_values_missing() -> ApiError:
    return ApiError("Communication values is not defined", "Parameter 'values' is required.", 400)
