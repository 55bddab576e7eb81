# The envinit image: FROM scratch, holding /envinit (static, stripped) and a
# CA bundle for TLS to AWS, nothing else.
#
#   docker build -t envinit .          # BuildKit (the default since Docker 23)
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
# Stages:
#   binary  builds /envinit; also the seam where tests put a binary built
#           elsewhere (below).
#   final   the shipped image. It only COPYs from `binary`, so its content
#           and metadata do not depend on how `binary` was produced.
#
# The seam: `final` takes exactly two paths from the stage named `binary`,
# /envinit and /etc/ssl/certs/ca-certificates.crt. Anything that provides
# those two files can stand in for the Go build:
#   - BuildKit:        docker buildx build --build-context binary=DIR --target final .
#                      (DIR holds envinit and etc/ssl/certs/ca-certificates.crt)
#   - classic builder: the e2e tests (e2e/docker_test.go, dockerBuildFinal)
#                      cannot pull golang here; they cut the `final` stage out
#                      of this file verbatim and build it after a FROM scratch
#                      stage named `binary` holding a host-built static binary.
# Either way, what the tests run IS this file's final stage. Keep `final` to
# COPY --from=binary plus metadata: a RUN there cannot run on scratch, and the
# e2e build rejects it.

FROM --platform=$BUILDPLATFORM golang:1.26 AS binary
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Cross-compiled on the build platform, so a multi-platform build
# (--platform linux/amd64,linux/arm64) needs no emulator.
ARG TARGETOS
ARG TARGETARCH
# docker build --build-arg VERSION=v1.2.3: what `envinit version` prints.
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X main.version=$VERSION" -o /envinit ./cmd/envinit
# The golang image's CA bundle (Debian's ca-certificates) is the one the
# final stage ships at /etc/ssl/certs/ca-certificates.crt, where Go looks.

FROM scratch AS final
COPY --from=binary /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=binary /envinit /envinit
# Non-root by default, as the init container of a pod that sets
# runAsNonRoot (the kubelet refuses an image whose user is root there
# unless the pod names a uid). `install` only needs to write to the shared
# volume (an emptyDir is world-writable). Images that COPY /envinit do not
# inherit this: their own USER applies.
USER 65532:65532
ENTRYPOINT ["/envinit"]
