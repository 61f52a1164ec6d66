"""RFC 6962 hashing, checked against the RFC's recursive definitions and the RFC 9162 verifiers."""
import hashlib

from hypothesis import given, settings, strategies as st

from referrals.protocol import merkle


def build(n):
    data = [f"entry {i}".encode() for i in range(n)]
    tree = merkle.Tree()
    for d in data:
        tree.append(d)
    return data, tree


def test_known_hashes():
    # RFC 6962 §2.1: the empty tree hashes to SHA-256 of nothing; a leaf is prefixed 0x00, a node 0x01.
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    tree = merkle.Tree()
    tree.append(b"a")
    tree.append(b"b")
    assert tree.root() == hashlib.sha256(b"\x01" + merkle.leaf_hash(b"a") + merkle.leaf_hash(b"b")).digest()


def test_incremental_root_matches_definition_for_every_size():
    data, tree = build(70)
    for n in range(71):
        assert tree.root(n) == merkle.root_of(data[:n])


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_proofs_verify_and_are_logarithmic(case):
    n, i = case
    data, tree = build(n)
    proof = tree.inclusion_proof(i)
    assert len(proof) <= (n - 1).bit_length()
    root = tree.root()
    assert merkle.verify_inclusion(merkle.leaf_hash(data[i]), i, n, proof, root)
    assert not merkle.verify_inclusion(merkle.leaf_hash(b"forged"), i, n, proof, root)
    if proof:
        bad = list(proof)
        bad[0] = bytes(32)
        assert not merkle.verify_inclusion(merkle.leaf_hash(data[i]), i, n, bad, root)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_consistency_proofs_verify_and_detect_rewrites(case):
    m, n = case
    data, tree = build(n)
    proof = tree.consistency_proof(m, n)
    assert merkle.verify_consistency(m, n, tree.root(m), tree.root(n), proof)
    if 0 < m:
        # the same history with one old entry changed: a rewrite the old root must expose
        forged = list(data)
        forged[m - 1] = b"rewritten"
        other = merkle.Tree()
        for d in forged:
            other.append(d)
        assert not merkle.verify_consistency(m, n, tree.root(m), other.root(n), other.consistency_proof(m, n))


def test_rfc_reference_tree_of_seven():
    # RFC 6962 §2.1.3's example tree of seven: PATH(d0) = [b, h, l], PATH(d6) = [i, j]; PROOF(3) = [c, d, g, l],
    # PROOF(4) = [l], PROOF(6) = [i, j, k].
    data, tree = build(7)
    assert len(tree.inclusion_proof(0)) == 3
    assert len(tree.inclusion_proof(6)) == 2
    assert len(tree.consistency_proof(3, 7)) == 4
    assert len(tree.consistency_proof(4, 7)) == 1
    assert len(tree.consistency_proof(6, 7)) == 3
