using System.Text.Json.Serialization;

namespace NovaStor.BlockEngine.Volumes;

/// <summary>Source-generated JSON for the catalog: no reflection, stable property names.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(CatalogDocument))]
internal sealed partial class CatalogJsonContext : JsonSerializerContext;
