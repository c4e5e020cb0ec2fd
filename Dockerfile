# extmount in a container, for what needs only the engines' APIs or files: migrate, show,
# detect --mountinfo. Built from this checkout's own tested tree, so the build needs no network and
# starts no container (only COPY steps: the classic builder and BuildKit alike):
#   npm ci && npm run build && docker build -t extmount .            # on the official node:20 image
#   docker build --build-arg BASE=extmount-base:trixie -t extmount .  # on scripts/image-base.sh's root
#   docker run --rm --network none -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /srv/b/docker.sock:/srv/b/docker.sock extmount migrate C --from unix:///var/run/docker.sock --to unix:///srv/b/docker.sock
# .dockerignore keeps the context to what the image needs and leaves the dev dependencies out
# (test/dockerignore.test.ts checks that against package-lock.json).
# detect/checkpoint/restore of local processes read the host's /proc and mount namespace and call
# CRIU: run those on the host (scripts/provision.sh installs what they need).
ARG BASE=node:20-bookworm-slim
FROM ${BASE}
WORKDIR /opt/extmount
COPY package.json package-lock.json config.json ./
COPY node_modules ./node_modules
COPY hooks ./hooks
COPY build/src ./build/src
ENTRYPOINT ["node", "/opt/extmount/build/src/cli/extmount.cjs"]
CMD ["--help"]
