from __future__ import annotations

from mcp_server.handlers.mcp.argument_errors import rewrite

SDK_TEXT = (
    "Error executing tool customers_register: 2 validation errors for customers_registerArguments\n"
    "name\n"
    "  String should have at least 1 character [type=string_too_short, input_value='', input_type=str]\n"
    "    For further information visit https://errors.pydantic.dev/2.14/v/string_too_short\n"
    "email\n"
    "  Value error, 'x' is not an e-mail address like name@example.com [type=value_error, input_value='x', "
    "input_type=str]\n"
    "    For further information visit https://errors.pydantic.dev/2.14/v/value_error"
)


def test_sdk_validation_text_becomes_a_list_of_bad_arguments_and_a_next_step():
    friendly = rewrite(SDK_TEXT)
    assert friendly == (
        "Invalid arguments for customers_register:\n"
        "- `name`: String should have at least 1 character\n"
        "- `email`: 'x' is not an e-mail address like name@example.com\n\n"
        "Nothing was changed. Next: correct these arguments (the tool's input schema lists what is allowed) "
        "and call customers_register again."
    )


def test_other_errors_pass_through():
    assert rewrite("No customer with id cus_1.\n\nNext: call customers_list") is None
    assert rewrite("Error executing tool customers_get") is None
    assert rewrite("") is None
