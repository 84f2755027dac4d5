// The Lambda Runtime API loop that Lambda's Node.js runtime runs around a handler (in AWS it is part of the
// runtime image; aws-lambda-ric, its npm twin, needs Node 22 and a native build). It asks for an invocation,
// calls the handler, posts its result, over one kept-alive connection: no more work than the real loop, so
// the Node figures are, if anything, flattered.
"use strict";

const http = require("http");
const { handler } = require("./app");

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host, port, method, path, agent }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve({ headers: response.headers, body: Buffer.concat(chunks).toString() }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

async function main() {
  for (;;) {
    const next = await call("GET", "/2018-06-01/runtime/invocation/next");
    const id = next.headers["lambda-runtime-aws-request-id"];
    const context = { awsRequestId: id, functionName: process.env.AWS_LAMBDA_FUNCTION_NAME };
    try {
      const result = await handler(JSON.parse(next.body), context);
      await call("POST", `/2018-06-01/runtime/invocation/${id}/response`, JSON.stringify(result));
    } catch (error) {
      const report = { errorType: error.name, errorMessage: error.message };
      await call("POST", `/2018-06-01/runtime/invocation/${id}/error`, JSON.stringify(report));
    }
  }
}

main();
