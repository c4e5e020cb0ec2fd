# extmount in a container, for hosts that keep their tools in images. It works on the HOST's
# processes and mounts, so run it privileged in the host's pid and mount namespaces, e.g.:
#   docker run --rm --privileged --pid=host -v /proc:/host/proc:ro \
#     -v /var/run/docker.sock:/var/run/docker.sock extmount detect CONTAINER
# (checkpoint/restore also need CRIU on the host; see scripts/provision.sh).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --no-audit --no-fund
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /opt/extmount
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/build/src ./build/src
COPY package.json config.json ./
COPY hooks ./hooks
COPY scripts ./scripts
ENTRYPOINT ["node", "/opt/extmount/build/src/cli.js"]
CMD ["--help"]
