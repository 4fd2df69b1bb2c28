"""The exceptions follow the core's one table of kinds (``_native.ERROR_KINDS``): one class per
kind, with the kind's code and whether it is retryable, exported by the package; and
``InvalidInputError`` documents every field name the core can give it."""

import inspect

import identity_reconciliation
from identity_reconciliation import _errors, _native


def test_every_kind_of_the_core_has_its_class_with_its_code():
    for code, name, retryable in _native.ERROR_KINDS:
        cls = getattr(_errors, name)
        assert issubclass(cls, _errors.IdentityError), name
        assert (cls.code, cls.retryable) == (code, retryable), name
        assert getattr(identity_reconciliation, name) is cls, f"{name} is not exported"
    kinds = {
        cls.code
        for _, cls in inspect.getmembers(_errors, inspect.isclass)
        if issubclass(cls, _errors.IdentityError) and cls is not _errors.IdentityError
    }
    assert kinds == {code for code, _, _ in _native.ERROR_KINDS}


def test_invalid_input_names_every_field_of_the_core():
    doc = _errors.InvalidInputError.__doc__ or ""
    missing = [name for name in _native.FIELD_NAMES if f'``"{name}"``' not in doc]
    assert not missing, f"InvalidInputError's docstring does not name {missing}"
