"""The official Firestore and Firebase Auth emulators of the stack, through the official clients."""

from __future__ import annotations

import os
import uuid

import firebase_admin
import pytest
import requests
from firebase_admin import auth
from google.cloud import firestore
from sendvia.adapters.google_clients import firestore_client


@pytest.fixture(scope="module")
def db(project: str) -> firestore.Client:
    return firestore_client(project)


@pytest.fixture(scope="module")
def firebase_app(project: str) -> firebase_admin.App:
    return firebase_admin.initialize_app(options={"projectId": project}, name=uuid.uuid4().hex)


def test_firestore_transaction_and_collection_group_query(db, unique_id):
    tenant = db.collection("tenants").document(unique_id)
    tenant.set({"product_name": "Clinic"})
    delivery = tenant.collection("deliveries").document("d1")
    delivery.set({"state": "queued", "attempts": 0})

    @firestore.transactional
    def claim(transaction: firestore.Transaction) -> None:
        snapshot = delivery.get(transaction=transaction)
        transaction.update(delivery, {"state": "sending", "attempts": snapshot.get("attempts") + 1})

    claim(db.transaction())
    assert delivery.get().to_dict() == {"state": "sending", "attempts": 1}
    found = (
        db.collection_group("deliveries")
        .where(filter=firestore.FieldFilter("state", "==", "sending"))
        .stream()
    )
    assert delivery.path in [d.reference.path for d in found]


def test_auth_emulator_issues_tokens_firebase_admin_verifies(firebase_app, unique_id):
    uid = f"u-{unique_id}"
    auth.create_user(uid=uid, email=f"{uid}@example.com", password="secret-pass", app=firebase_app)
    auth.set_custom_user_claims(uid, {"tenant_id": "t1", "role": "admin"}, app=firebase_app)
    host = os.environ["FIREBASE_AUTH_EMULATOR_HOST"]
    response = requests.post(
        f"http://{host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=any",
        json={"email": f"{uid}@example.com", "password": "secret-pass", "returnSecureToken": True},
        timeout=10,
    )
    response.raise_for_status()
    claims = auth.verify_id_token(response.json()["idToken"], app=firebase_app)
    assert (claims["uid"], claims["tenant_id"], claims["role"]) == (uid, "t1", "admin")
    with pytest.raises(auth.InvalidIdTokenError):
        auth.verify_id_token("not-a-token", app=firebase_app)
