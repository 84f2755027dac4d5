"""Auth0's "Using Auth0 with Flask Python API" quickstart, the original this project replaces, as a Python
Lambda function: Flask behind the apig-wsgi adapter, run by awslambdaric.

The code is the quickstart's, changed only where today's Flask and PyJWT require it:
- Flask 2.3 removed `_request_ctx_stack`; `current_user` lives on `flask.g`.
- PyJWT 2 requires `algorithms` (the quickstart's tokens are HS256) and checks `aud` itself when the token
  has one, so the audience is passed to `jwt.decode`.
- The client id and secret come from the environment instead of being pasted into the file.
"""

import base64
import os
from functools import wraps

import jwt
from apig_wsgi import make_lambda_handler
from flask import Flask, g, jsonify, request
from werkzeug.local import LocalProxy

app = Flask(__name__)

CLIENT_ID = os.environ["AUTH0_AUDIENCE"]
CLIENT_SECRET = os.environ["AUTH0_CLIENT_SECRET_BASE64URL"]

current_user = LocalProxy(lambda: g.current_user)


def authenticate(error):
    resp = jsonify(error)

    resp.status_code = 401
    resp.headers["WWW-Authenticate"] = 'Bearer realm="' + CLIENT_ID + '"'

    return resp


def requires_auth(f):
    @wraps(f)
    def decorated(*args, **kwargs):
        auth = request.headers.get("Authorization", None)
        if not auth:
            return authenticate(
                {"code": "authorization_header_missing", "description": "Authorization header is expected"}
            )

        parts = auth.split()

        if parts[0].lower() != "bearer":
            return {"code": "invalid_header", "description": "Authorization header must start with Bearer"}
        elif len(parts) == 1:
            return {"code": "invalid_header", "description": "Token not found"}
        elif len(parts) > 2:
            return {"code": "invalid_header", "description": "Authorization header must be Bearer + \\s + token"}

        token = parts[1]
        try:
            payload = jwt.decode(
                token,
                base64.b64decode(CLIENT_SECRET.replace("_", "/").replace("-", "+") + "=="),
                algorithms=["HS256"],
                audience=CLIENT_ID,
            )
        except jwt.ExpiredSignatureError:
            return authenticate({"code": "token_expired", "description": "token is expired"})
        except jwt.DecodeError:
            return authenticate({"code": "token_invalid_signature", "description": "token signature is invalid"})

        if payload["aud"] != CLIENT_ID:
            return authenticate(
                {"code": "invalid_audience", "description": "the audience does not match. expected: " + CLIENT_ID}
            )

        g.current_user = payload
        return f(*args, **kwargs)

    return decorated


@app.route("/")
def hello():
    return "Hello World!"


@app.route("/protected")
@requires_auth
def protected():
    return "Hello World " + current_user["email"] + "!"


handler = make_lambda_handler(app)
