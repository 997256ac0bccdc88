namespace NovaStor.Protocol;
