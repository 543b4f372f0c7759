import { type DescEnum, type DescFile, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection,
  type ServerReflectionResponse,
} from "@cebus/proto/grpc";
import type { ConnectRouter } from "@connectrpc/connect";

const NOT_FOUND = 5;

/**
 * gRPC server reflection v1 (grpc.reflection.v1.ServerReflection) over the given files, so `buf curl`, grpcurl and
 * other generic tools can list the services and call them without .proto files. Files are answered together with
 * their transitive dependencies (well-known types included).
 */
export function registerReflection(router: ConnectRouter, files: DescFile[]): void {
  const byName = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (byName.has(file.proto.name)) return;
    byName.set(file.proto.name, file);
    for (const dependency of file.dependencies) visit(dependency);
  };
  for (const file of [...files, file_grpc_reflection_v1_reflection]) visit(file);

  const bySymbol = new Map<string, DescFile>();
  const addMessages = (file: DescFile, messages: DescMessage[], enums: DescEnum[]) => {
    for (const e of enums) bySymbol.set(e.typeName, file);
    for (const m of messages) {
      bySymbol.set(m.typeName, file);
      addMessages(file, m.nestedMessages, m.nestedEnums);
    }
  };
  const services: string[] = [];
  for (const file of byName.values()) {
    addMessages(file, file.messages, file.enums);
    for (const service of file.services) {
      bySymbol.set(service.typeName, file);
      for (const method of service.methods) bySymbol.set(`${service.typeName}.${method.name}`, file);
    }
  }
  for (const file of files) for (const service of file.services) services.push(service.typeName);
  services.push(ServerReflection.typeName);

  const withDependencies = (file: DescFile): Uint8Array[] => {
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
  };

  router.service(ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        const r = request.messageRequest;
        let messageResponse: ServerReflectionResponse["messageResponse"];
        const notFound = (what: string): ServerReflectionResponse["messageResponse"] => ({
          case: "errorResponse",
          value: {
            $typeName: "grpc.reflection.v1.ErrorResponse",
            errorCode: NOT_FOUND,
            errorMessage: `${what} not found`,
          },
        });
        const fileResponse = (
          file: DescFile | undefined,
          what: string,
        ): ServerReflectionResponse["messageResponse"] =>
          file
            ? {
                case: "fileDescriptorResponse",
                value: {
                  $typeName: "grpc.reflection.v1.FileDescriptorResponse",
                  fileDescriptorProto: withDependencies(file),
                },
              }
            : notFound(what);
        switch (r.case) {
          case "listServices":
            messageResponse = {
              case: "listServicesResponse",
              value: {
                $typeName: "grpc.reflection.v1.ListServiceResponse",
                service: services.map((name) => ({ $typeName: "grpc.reflection.v1.ServiceResponse", name })),
              },
            };
            break;
          case "fileByFilename":
            messageResponse = fileResponse(byName.get(r.value), `file '${r.value}'`);
            break;
          case "fileContainingSymbol":
            messageResponse = fileResponse(bySymbol.get(r.value.replace(/^\./, "")), `symbol '${r.value}'`);
            break;
          case "allExtensionNumbersOfType":
            messageResponse = bySymbol.has(r.value)
              ? {
                  case: "allExtensionNumbersResponse",
                  value: {
                    $typeName: "grpc.reflection.v1.ExtensionNumberResponse",
                    baseTypeName: r.value,
                    extensionNumber: [],
                  },
                }
              : notFound(`type '${r.value}'`);
            break;
          case "fileContainingExtension":
            messageResponse = notFound(`extension ${r.value.extensionNumber} of '${r.value.containingType}'`);
            break;
          default:
            messageResponse = notFound("request");
        }
        yield { validHost: request.host, originalRequest: request, messageResponse };
      }
    },
  });
}
