# An application image with no envinit in it, as in the Kubernetes
# init-container pattern: the pod brings envinit in a volume.
FROM scratch
COPY rootfs/ /
CMD ["/probe", "report"]
