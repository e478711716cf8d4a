# syntax=docker/dockerfile:1
# Build stage: full install (TypeScript), compile to dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build

# Runtime stage: production dependencies only, non-root, read-only friendly (no writes at run time).
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY bin ./bin
COPY examples ./examples
USER 65532:65532
# the read-only status port (metrics, health, explain); the extender verbs (8888) listen on loopback
EXPOSE 8889
ENTRYPOINT ["node", "/app/bin/gpu-ledger.js"]
CMD ["serve"]
