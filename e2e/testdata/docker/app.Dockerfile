# The application image of the Docker tests, built the way the README's "Deploying" section
# tells users to adopt envinit: copy /envinit out of the envinit image.
# ENVINIT_IMAGE is the shipped final stage, built by the tests.
ARG ENVINIT_IMAGE
FROM ${ENVINIT_IMAGE} AS envinit

FROM scratch
COPY --from=envinit /envinit /envinit
# The probe as /probe; /etc/passwd and /etc/group with a user "app"
# (1000:1000, also in group audit 2000) for --user and ENVINIT_USER by name;
# and /srv/secrets, an empty directory on the container's own disk, not
# tmpfs, that ENVINIT_SECRETS_DIR must be refused.
COPY rootfs/ /
ENTRYPOINT ["/envinit", "--"]
CMD ["/probe", "report"]
