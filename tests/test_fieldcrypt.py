"""Field encryption of ID numbers: fresh ciphertexts, tamper detection, keyed blind index."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.lib.fieldcrypt import FieldCipher, FieldDecryptError

ID_NUMBER = "11010519491231002X"
SECRET = "test secret for field encryption"
OTHER_SECRET = "another secret for field encryption"


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(SECRET)


def test_it_encrypts_the_same_value_differently_each_time(cipher: FieldCipher) -> None:
    first, second = cipher.encrypt(ID_NUMBER), cipher.encrypt(ID_NUMBER)
    assert first != second
    assert cipher.decrypt(first) == ID_NUMBER
    assert cipher.decrypt(second) == ID_NUMBER


def test_it_marks_tokens_with_a_version_and_urlsafe_base64(cipher: FieldCipher) -> None:
    token = cipher.encrypt(ID_NUMBER)
    assert token.startswith("v1:")
    assert set(token[3:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_the_ciphertext_never_contains_the_plain_text(cipher: FieldCipher) -> None:
    for _ in range(50):
        token = cipher.encrypt(ID_NUMBER)
        assert ID_NUMBER not in token
        assert ID_NUMBER[6:14] not in token


def test_a_new_cipher_with_the_same_secret_decrypts(cipher: FieldCipher) -> None:
    assert FieldCipher(SECRET).decrypt(cipher.encrypt(ID_NUMBER)) == ID_NUMBER


def test_it_refuses_a_token_made_with_another_key(cipher: FieldCipher) -> None:
    with pytest.raises(FieldDecryptError, match="another key"):
        FieldCipher(OTHER_SECRET).decrypt(cipher.encrypt(ID_NUMBER))


@given(st.data())
def test_it_refuses_any_single_character_change_of_a_token(data: st.DataObject) -> None:
    cipher = FieldCipher(SECRET)
    token = cipher.encrypt(ID_NUMBER)
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:v"
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[position]))
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(FieldDecryptError):
        cipher.decrypt(tampered)


@pytest.mark.parametrize("token", ["", "v2:AAAA", "v1:", "v1:not base64!", "v1:AAAA", "11010519491231002X"])
def test_it_refuses_malformed_tokens_with_a_clear_error(cipher: FieldCipher, token: str) -> None:
    with pytest.raises(FieldDecryptError):
        cipher.decrypt(token)


def test_a_decrypt_error_is_a_value_error() -> None:
    assert issubclass(FieldDecryptError, ValueError)


def test_it_round_trips_any_text(cipher: FieldCipher) -> None:
    for text in ["", "张三", "x" * 1000]:
        assert cipher.decrypt(cipher.encrypt(text)) == text


def test_the_blind_index_is_deterministic(cipher: FieldCipher) -> None:
    assert cipher.blind_index(ID_NUMBER) == FieldCipher(SECRET).blind_index(ID_NUMBER)
    assert len(cipher.blind_index(ID_NUMBER)) == 64
    int(cipher.blind_index(ID_NUMBER), 16)


def test_the_blind_index_matches_however_the_number_was_typed(cipher: FieldCipher) -> None:
    assert cipher.blind_index(" 110105 19491231 002x") == cipher.blind_index(ID_NUMBER)
    assert cipher.blind_index("１１０１０５19491231002X") == cipher.blind_index(ID_NUMBER)


def test_the_blind_index_differs_across_keys_and_values(cipher: FieldCipher) -> None:
    assert cipher.blind_index(ID_NUMBER) != FieldCipher(OTHER_SECRET).blind_index(ID_NUMBER)
    assert cipher.blind_index(ID_NUMBER) != cipher.blind_index("440524188001010014")


def test_the_blind_index_does_not_reveal_the_number(cipher: FieldCipher) -> None:
    assert "19491231" not in cipher.blind_index(ID_NUMBER)


def test_it_refuses_a_short_secret() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        FieldCipher("short")


def test_its_repr_does_not_show_the_secret(cipher: FieldCipher) -> None:
    assert SECRET not in repr(cipher)
