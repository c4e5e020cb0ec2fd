# extmount in a container, for what needs only the engines' APIs or files: migrate, show,
# detect --mountinfo. E.g.:
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock extmount migrate C --from … --to …
# detect/checkpoint/restore of local processes read the host's /proc and mount namespace and call
# CRIU: run those on the host (scripts/provision.sh installs what they need).
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
ENTRYPOINT ["node", "/opt/extmount/build/src/cli-bundle/cli.mjs"]
CMD ["--help"]
