# The envinit image: FROM scratch, holding /envinit (static, stripped) and a
# CA bundle for TLS to AWS, nothing else.
#
#   docker build -t envinit .                 # BuildKit or the classic builder
#   scripts/image dist/envinit-linux-amd64    # no network: from a host-built binary
#
# It is meant to be used two ways (the README's "Deploying" section):
#
#   (a) copied into your own image:
#         COPY --from=envinit /envinit /envinit
#         ENTRYPOINT ["/envinit", "--"]
#         CMD ["/app", "serve"]
#   (b) run as a Kubernetes init container that copies the binary into a
#       shared volume:  args: ["install", "/install"]
#
# Build arguments: VERSION and REVISION (what `envinit version` prints and
# the image's labels say), GO_IMAGE (the image the binary is built in).
#
# Stages:
#   binary  builds /envinit with scripts/build, as a release does; also the
#           seam where a binary built elsewhere goes in (below).
#   final   the shipped image. It only COPYs from `binary`, so its content
#           and metadata do not depend on how `binary` was produced.
#
# The seam: `final` takes exactly two paths from the stage named `binary`,
# /envinit and /etc/ssl/certs/ca-certificates.crt. Anything that provides
# those two files can stand in for the Go build:
#   - scripts/image BINARY: any builder, no network. It builds this file's
#     final stage, verbatim, after a FROM scratch stage named `binary` that
#     holds BINARY and the host's CA bundle. The e2e tests build the image
#     they run this way.
#   - BuildKit:  docker buildx build --build-context binary=DIR --target final .
#                (DIR holds envinit and etc/ssl/certs/ca-certificates.crt)
# Keep `final` to COPY --from=binary, ARG and metadata: a RUN there cannot
# run on scratch, and scripts/image refuses it.

# BuildKit sets BUILDPLATFORM, so the binary is cross-compiled on the build
# machine and a multi-platform build (--platform linux/amd64,linux/arm64)
# needs no emulator. The classic builder sets no platform arguments, and an
# empty --platform fails to parse: it falls back to linux/amd64 (on an arm64
# host, --build-arg BUILDPLATFORM=linux/arm64). No default on the ARG itself:
# BuildKit would take it over its own value (docker/buildx#510).
ARG BUILDPLATFORM
ARG GO_IMAGE=golang:1.26
FROM --platform=${BUILDPLATFORM:-linux/amd64} ${GO_IMAGE} AS binary
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Empty with the classic builder: scripts/build then builds for the Go
# image's own platform, which is the engine's.
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=
RUN GOARCH=$TARGETARCH VERSION=$VERSION COMMIT=$REVISION ./scripts/build /envinit
# The golang image's CA bundle (Debian's ca-certificates) is the one the
# final stage ships, at /etc/ssl/cert.pem: a file Go reads when there is no
# /etc/ssl/certs/ca-certificates.crt, outside the /etc/ssl/certs directory
# it also scans, so that it is parsed once, not twice. envinit verifies
# AWS's certificates against the Amazon roots built into it and reads the
# bundle only when that fails (docs/SECURITY.md, "Trust store").

FROM scratch AS final
COPY --from=binary /etc/ssl/certs/ca-certificates.crt /etc/ssl/cert.pem
COPY --from=binary /envinit /envinit
# Non-root by default, as the init container of a pod that sets
# runAsNonRoot (the kubelet refuses an image whose user is root there
# unless the pod names a uid). `install` only needs to write to the shared
# volume (an emptyDir is world-writable). Images that COPY /envinit do not
# inherit this: their own USER applies.
USER 65532:65532
ENTRYPOINT ["/envinit"]
# OCI annotations as labels; licenses is the SPDX identifier of LICENSE.
ARG VERSION=dev
ARG REVISION=
LABEL org.opencontainers.image.title="envinit" \
      org.opencontainers.image.description="Container entrypoint that resolves a service's secrets from AWS SSM Parameter Store and execs the command" \
      org.opencontainers.image.source="https://github.com/envinit/envinit" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
