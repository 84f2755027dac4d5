// What a Node team deploys instead: Express with Auth0's express-oauth2-jwt-bearer middleware, behind the
// serverless-http adapter. Same routes and the same HS256 configuration as the function measured beside it.
"use strict";

const express = require("express");
const serverless = require("serverless-http");
const { auth } = require("express-oauth2-jwt-bearer");

const app = express();
const checkJwt = auth({
  audience: process.env.AUTH0_AUDIENCE,
  issuer: process.env.AUTH0_ISSUER,
  secret: process.env.AUTH0_CLIENT_SECRET,
  tokenSigningAlg: "HS256",
});

app.get("/", (req, res) => res.send("Hello World!"));
app.get("/protected", checkJwt, (req, res) => res.send(`Hello World ${req.auth.payload.email}!`));

exports.handler = serverless(app);
