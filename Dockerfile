# The crm image: one binary that runs any service (`serve <service>`), as the manifests in k8s/
# do. Build: docker build -t registry.example.com/crm:0.1.0 .

# The web console, built from the protos and its own locked packages; the binary embeds it.
FROM node:20.20.2-bookworm-slim AS console
WORKDIR /src/console
COPY console/package.json console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY proto /src/proto
COPY console/ ./
RUN npm run build

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
COPY --from=console /src/console/dist console/dist
RUN cargo build --release --locked -p crm && cp target/release/crm /crm

# glibc and CA certificates (JWKS over https), nothing else; runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /crm /usr/local/bin/crm
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/crm"]
