import { type DescEnum, type DescFile, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "@cebus/proto/grpc";
import type { ConnectRouter } from "@connectrpc/connect";

const NOT_FOUND = 5;

type MessageResponse = ServerReflectionResponse["messageResponse"];

/** What reflection answers from: files by name, the file declaring each symbol, and the services served. */
interface ReflectionIndex {
  byName: Map<string, DescFile>;
  bySymbol: Map<string, DescFile>;
  services: string[];
}

/**
 * gRPC server reflection v1 (grpc.reflection.v1.ServerReflection) over the given files, so `buf curl`, grpcurl and
 * other generic tools can list the services and call them without .proto files. Files are answered together with
 * their transitive dependencies (well-known types included).
 */
export function registerReflection(router: ConnectRouter, files: DescFile[]): void {
  const index = indexFiles(files);
  router.service(ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield { validHost: request.host, originalRequest: request, messageResponse: answer(index, request) };
      }
    },
  });
}

function indexFiles(files: DescFile[]): ReflectionIndex {
  const byName = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (byName.has(file.proto.name)) return;
    byName.set(file.proto.name, file);
    for (const dependency of file.dependencies) visit(dependency);
  };
  for (const file of [...files, file_grpc_reflection_v1_reflection]) visit(file);

  const bySymbol = new Map<string, DescFile>();
  for (const file of byName.values()) {
    addMessages(bySymbol, file, file.messages, file.enums);
    for (const service of file.services) {
      bySymbol.set(service.typeName, file);
      for (const method of service.methods) bySymbol.set(`${service.typeName}.${method.name}`, file);
    }
  }
  const services: string[] = [];
  for (const file of files) for (const service of file.services) services.push(service.typeName);
  services.push(ServerReflection.typeName);
  return { byName, bySymbol, services };
}

/** Maps the messages and enums of `file`, nested ones included, to the file. */
function addMessages(
  bySymbol: Map<string, DescFile>,
  file: DescFile,
  messages: DescMessage[],
  enums: DescEnum[],
): void {
  for (const e of enums) bySymbol.set(e.typeName, file);
  for (const m of messages) {
    bySymbol.set(m.typeName, file);
    addMessages(bySymbol, file, m.nestedMessages, m.nestedEnums);
  }
}

/** The response to one reflection request. */
function answer(index: ReflectionIndex, request: ServerReflectionRequest): MessageResponse {
  const r = request.messageRequest;
  switch (r.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: {
          $typeName: "grpc.reflection.v1.ListServiceResponse",
          service: index.services.map((name) => ({ $typeName: "grpc.reflection.v1.ServiceResponse", name })),
        },
      };
    case "fileByFilename":
      return fileResponse(index.byName.get(r.value), `file '${r.value}'`);
    case "fileContainingSymbol":
      return fileResponse(index.bySymbol.get(r.value.replace(/^\./, "")), `symbol '${r.value}'`);
    case "allExtensionNumbersOfType":
      return index.bySymbol.has(r.value)
        ? {
            case: "allExtensionNumbersResponse",
            value: {
              $typeName: "grpc.reflection.v1.ExtensionNumberResponse",
              baseTypeName: r.value,
              extensionNumber: [],
            },
          }
        : notFound(`type '${r.value}'`);
    case "fileContainingExtension":
      return notFound(`extension ${r.value.extensionNumber} of '${r.value.containingType}'`);
    default:
      return notFound("request");
  }
}

function notFound(what: string): MessageResponse {
  return {
    case: "errorResponse",
    value: {
      $typeName: "grpc.reflection.v1.ErrorResponse",
      errorCode: NOT_FOUND,
      errorMessage: `${what} not found`,
    },
  };
}

function fileResponse(file: DescFile | undefined, what: string): MessageResponse {
  if (!file) return notFound(what);
  return {
    case: "fileDescriptorResponse",
    value: {
      $typeName: "grpc.reflection.v1.FileDescriptorResponse",
      fileDescriptorProto: withDependencies(file),
    },
  };
}

/** The file and its transitive dependencies, each once, the file first. */
function withDependencies(file: DescFile): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  const add = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    for (const dependency of f.dependencies) add(dependency);
  };
  add(file);
  return out;
}
